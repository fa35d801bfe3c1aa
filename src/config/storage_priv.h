/* Checks shared by storage attachment creation, validation and the disk
 * backend, so all three refuse the same files with the same words. */
#ifndef VMK_STORAGE_PRIV_H
#define VMK_STORAGE_PRIV_H

#include "config/config_priv.h"
#include <vmkit/error.h>

/* Whether the file a names can back a drive now: it exists, has the right
 * type, allows the access asked for and holds whole 512-byte sectors.
 * field prefixes the message. */
bool storage_attachment_check(const struct vmk_storage_attachment *a, const char *field, vmk_error **err);
/* Rechecks every storage device's attachment, appending to *err. */
void storage_validate(const struct vmk_config *cfg, vmk_error **err);

#endif
