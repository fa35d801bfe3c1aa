/* The NAT network backend: a libslirp user-mode stack on the machine's I/O
 * thread. */
#ifndef VMK_ATTACH_NAT_H
#define VMK_ATTACH_NAT_H

#include "attach/net.h"
#include "config/nat_priv.h"

/* Builds the stack and binds the port forwards, so a taken port fails here
 * with field in the message. */
struct net_backend *nat_backend_new(const struct nat_config *n, const char *field, vmk_error **err);

#endif
