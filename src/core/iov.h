/* Gather/scatter over iovec arrays (request buffers in guest RAM), shared by
 * devices and the backends that read or write those buffers directly. */
#ifndef VMK_CORE_IOV_H
#define VMK_CORE_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copy between part of iov (from byte off) and buf; return bytes copied. */
size_t iov_copy_from(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t iov_copy_to(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);
/* Describes bytes [off, off + len) of iov in out (at most max entries);
 * returns the entry count. Fewer bytes when iov is shorter. */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *out,
		   unsigned max);

#endif
