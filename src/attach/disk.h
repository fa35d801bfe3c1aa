/* The storage backend behind a block device model: a disk image file or a
 * host block device, reached through one small asynchronous interface so a
 * device never knows which it has. Not thread-safe: one thread (the
 * machine's I/O thread) submits, completes and drains. */
#ifndef VMK_DISK_H
#define VMK_DISK_H

#include "config/config_priv.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <vmkit/error.h>

enum disk_op { DISK_READ, DISK_WRITE, DISK_FLUSH, DISK_DISCARD, DISK_WRITE_ZEROES };

/* How requests reach the kernel. AUTO is io_uring, or the thread pool
 * where io_uring is unavailable (old kernels, seccomp'd containers). */
enum disk_engine { DISK_ENGINE_AUTO, DISK_ENGINE_URING, DISK_ENGINE_THREADS };

struct disk_io {
	enum disk_op op;
	uint64_t offset;   /* bytes */
	uint64_t len;	   /* DISCARD, WRITE_ZEROES; READ/WRITE use the iovecs */
	struct iovec *iov; /* READ/WRITE; the backend consumes it in place */
	unsigned iovcnt;
	bool may_unmap; /* WRITE_ZEROES may deallocate */
	/* res is 0 or -errno; called from disk_complete() or disk_drain(). */
	void (*done)(struct disk_io *io, int res);

	/* Backend bookkeeping. */
	struct disk_io *next;
	struct disk *disk;
	int res;
};

/* field names the attachment in errors, e.g. "storage_devices[0].attachment". */
struct disk *disk_open(const struct vmk_storage_attachment *a, enum disk_engine engine, const char *field,
		       vmk_error **err);
/* Waits for requests in flight (their done() runs) and closes. */
void disk_close(struct disk *d);

uint64_t disk_size(const struct disk *d);
bool disk_read_only(const struct disk *d);
/* False when UNCACHED was asked for but the file system refused O_DIRECT. */
bool disk_direct(const struct disk *d);

/* Queues io. Returns 0 (done() will run) or -errno (it will not): -EROFS
 * for a change to a read-only disk, -EINVAL for a range past the end. */
int disk_submit(struct disk *d, struct disk_io *io);
/* Hands queued requests to the kernel; call after a batch of submits. */
void disk_kick(struct disk *d);
/* Readable when completions are waiting: watch it, then disk_complete(). */
int disk_event_fd(const struct disk *d);
void disk_complete(struct disk *d);
unsigned disk_inflight(const struct disk *d);
/* Blocks until nothing is in flight, completing everything. */
void disk_drain(struct disk *d);

#endif
