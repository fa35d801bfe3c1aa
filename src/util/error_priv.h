/* Building vmk_error chains inside the library. */
#ifndef VMK_ERROR_PRIV_H
#define VMK_ERROR_PRIV_H

#include <stdbool.h>
#include <vmkit/error.h>

/* Sets *err (if err is non-NULL and *err is NULL) to a new error; if *err
 * already holds a chain, appends to it. field may be NULL. Always returns
 * false so callers can `return vmk_set_error(...)`. */
bool vmk_set_error(vmk_error **err, vmk_error_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same, with strerror(errnum) appended as ": <text>". */
bool vmk_set_errno(vmk_error **err, vmk_error_code code, const char *field, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Deep copy of a chain (NULL in, NULL out). */
vmk_error *vmk_error_copy(const vmk_error *err);

#endif
