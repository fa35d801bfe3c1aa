/* The host side of a shared directory: a FUSE server (the protocol virtio-fs
 * carries, <linux/fuse.h>) over one directory or several named ones. It
 * serves one request at a time on whatever thread calls it (the virtio-fs
 * device's own thread); it never follows a symbolic link on the host and
 * resolves every guest-supplied name as one component beneath a directory it
 * already holds, so nothing outside the shared trees is reachable. */
#ifndef VMK_ATTACH_FS_SERVER_H
#define VMK_ATTACH_FS_SERVER_H

#include "config/config_priv.h"
#include <stddef.h>
#include <sys/uio.h>
#include <vmkit/error.h>

struct fs_server;

/* Opens the device's directories (their paths are resolved once, here). */
struct fs_server *fs_server_new(const struct vmk_fs_device *cfg, vmk_error **err);
/* Serves one request: `req` are the driver's readable buffers (the FUSE
 * request), `reply` its writable ones. Returns the bytes written to reply
 * (0 for requests without a reply, such as FORGET). Malformed requests get
 * an error reply (EINVAL, EIO ...) when a reply header fits; never more than
 * the buffers hold is read or written. */
size_t fs_server_handle(struct fs_server *s, const struct iovec *req, unsigned nreq,
			const struct iovec *reply, unsigned nreply);
/* The driver went away (device reset): every inode and open file it held is
 * forgotten; the next request must be INIT. */
void fs_server_reset(struct fs_server *s);
void fs_server_free(struct fs_server *s);

/* The largest READ or WRITE payload the server announces (max_write, max_pages). */
#define FS_MAX_IO (1u << 20)

#endif
