/* Disk backend: a raw image file or a host block device. Reads, writes and
 * flushes go through io_uring; discards and zeroing, which io_uring cannot
 * express for block devices and which need fallbacks, run on a helper
 * thread. Where io_uring is unavailable every request uses the threads.
 * Completions are signalled on one eventfd the I/O loop watches, so neither
 * a vCPU nor the loop ever waits for the disk. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach/disk.h"
#include "config/storage_priv.h"
#include "util/error_priv.h"

#define RING_DEPTH   512
#define POOL_THREADS 4
#define MAX_THREADS  8

struct disk {
	int fd;
	int efd;
	uint64_t size;
	bool read_only, blockdev, direct;
	vmk_disk_sync_mode sync;
	unsigned inflight;

	bool uring;
	struct io_uring ring;
	unsigned unsubmitted;

	/* The threads: work queue in, done list out, both under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct disk_io *work, **work_tail;
	struct disk_io *done;
	bool stopping;
	pthread_t threads[MAX_THREADS];
	unsigned nthreads;
};

static void signal_efd(struct disk *d)
{
	uint64_t one = 1;

	while (write(d->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Drops the first n bytes of an iovec array, in place. */
static void iov_advance(struct iovec **iov, unsigned *cnt, size_t n)
{
	while (*cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

static int rw_sync(struct disk *d, struct disk_io *io)
{
	while (io->iovcnt) {
		int n = io->iovcnt > IOV_MAX ? IOV_MAX : (int)io->iovcnt;
		ssize_t r = io->op == DISK_WRITE ? pwritev(d->fd, io->iov, n, (off_t)io->offset)
						 : preadv(d->fd, io->iov, n, (off_t)io->offset);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		/* The image shrank under us. */
		if (r == 0)
			return -EIO;
		io->offset += (uint64_t)r;
		iov_advance(&io->iov, &io->iovcnt, (size_t)r);
	}
	return 0;
}

static int write_zero_buffers(struct disk *d, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 * 1024] __attribute__((aligned(4096)));

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t r = pwrite(d->fd, zeros, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

static bool unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOTTY || e == EINVAL || e == ENOSYS;
}

/* Discard is a hint: a backend that cannot deallocate just ignores it. */
static int discard_sync(struct disk *d, struct disk_io *io)
{
	uint64_t range[2] = {io->offset, io->len};
	int r;

	if (d->blockdev)
		r = ioctl(d->fd, BLKDISCARD, range);
	else
		r = fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)io->offset,
			      (off_t)io->len);
	return r == 0 || unsupported(errno) ? 0 : -errno;
}

/* Reads of the range must return zeros afterwards; deallocating is allowed
 * only with may_unmap. On a block device PUNCH_HOLE zeroes with unmap and
 * never falls back to writing, ZERO_RANGE may write. */
static int write_zeroes_sync(struct disk *d, struct disk_io *io)
{
	int modes[2] = {FALLOC_FL_ZERO_RANGE, 0};

	if (io->may_unmap) {
		modes[0] = FALLOC_FL_PUNCH_HOLE;
		modes[1] = FALLOC_FL_ZERO_RANGE;
	}
	for (int i = 0; i < 2 && modes[i]; i++) {
		if (fallocate(d->fd, modes[i] | FALLOC_FL_KEEP_SIZE, (off_t)io->offset, (off_t)io->len) == 0)
			return 0;
		if (!unsupported(errno))
			return -errno;
	}
	return write_zero_buffers(d, io->offset, io->len);
}

static int flush_sync(struct disk *d)
{
	int r = 0;

	if (d->sync == VMK_DISK_SYNC_FULL)
		r = fdatasync(d->fd);
	else if (d->sync == VMK_DISK_SYNC_FSYNC)
		r = fsync(d->fd);
	return r ? -errno : 0;
}

static int exec_sync(struct disk *d, struct disk_io *io)
{
	switch (io->op) {
	case DISK_READ:
	case DISK_WRITE:
		return rw_sync(d, io);
	case DISK_FLUSH:
		return flush_sync(d);
	case DISK_DISCARD:
		return discard_sync(d, io);
	case DISK_WRITE_ZEROES:
		return write_zeroes_sync(d, io);
	}
	return -EINVAL;
}

static void *worker(void *arg)
{
	struct disk *d = arg;
	struct disk_io *io;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->work && !d->stopping)
			pthread_cond_wait(&d->cond, &d->lock);
		io = d->work;
		if (!io)
			break;
		d->work = io->next;
		if (!d->work)
			d->work_tail = &d->work;
		pthread_mutex_unlock(&d->lock);
		io->res = exec_sync(d, io);
		pthread_mutex_lock(&d->lock);
		io->next = d->done;
		d->done = io;
		signal_efd(d);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void to_threads(struct disk *d, struct disk_io *io)
{
	pthread_mutex_lock(&d->lock);
	io->next = NULL;
	*d->work_tail = io;
	d->work_tail = &io->next;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static bool to_ring(struct disk *d, struct disk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		disk_kick(d);
		sqe = io_uring_get_sqe(&d->ring);
		if (!sqe)
			return false;
	}
	switch (io->op) {
	case DISK_READ:
		io_uring_prep_readv(sqe, d->fd, io->iov, io->iovcnt, io->offset);
		break;
	case DISK_WRITE:
		io_uring_prep_writev(sqe, d->fd, io->iov, io->iovcnt, io->offset);
		break;
	default:
		io_uring_prep_fsync(sqe, d->fd, d->sync == VMK_DISK_SYNC_FULL ? IORING_FSYNC_DATASYNC : 0);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	d->unsubmitted++;
	return true;
}

static uint64_t iov_total(const struct iovec *iov, unsigned n)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

int disk_submit(struct disk *d, struct disk_io *io)
{
	uint64_t len = io->op == DISK_READ || io->op == DISK_WRITE ? iov_total(io->iov, io->iovcnt) : io->len;

	if (io->op != DISK_READ && io->op != DISK_FLUSH && d->read_only)
		return -EROFS;
	if (io->op != DISK_FLUSH && (io->offset > d->size || len > d->size - io->offset))
		return -EINVAL;
	if (io->op > DISK_WRITE_ZEROES)
		return -EINVAL;
	io->disk = d;
	d->inflight++;
	if (d->uring &&
	    (io->op == DISK_READ || io->op == DISK_WRITE ||
	     (io->op == DISK_FLUSH && d->sync != VMK_DISK_SYNC_NONE)) &&
	    to_ring(d, io))
		return 0;
	to_threads(d, io);
	return 0;
}

void disk_kick(struct disk *d)
{
	if (d->uring && d->unsubmitted) {
		io_uring_submit(&d->ring);
		d->unsubmitted = 0;
	}
}

static void finish(struct disk *d, struct disk_io *io, int res)
{
	d->inflight--;
	io->done(io, res);
}

/* A short transfer (a signal, a page-cache quirk) is continued, not failed. */
static void ring_completion(struct disk *d, struct disk_io *io, int res)
{
	bool rw = io->op == DISK_READ || io->op == DISK_WRITE;

	if (res == -EINTR || res == -EAGAIN ||
	    (rw && res > 0 && iov_total(io->iov, io->iovcnt) > (uint64_t)res)) {
		if (res > 0) {
			io->offset += (uint64_t)res;
			iov_advance(&io->iov, &io->iovcnt, (size_t)res);
		}
		if (!to_ring(d, io))
			to_threads(d, io);
		return;
	}
	if (rw && res == 0 && io->iovcnt)
		res = -EIO;
	finish(d, io, res < 0 ? res : 0);
}

void disk_complete(struct disk *d)
{
	struct io_uring_cqe *cqe;
	struct disk_io *list, *next;
	uint64_t n;

	while (read(d->efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	while (d->uring && io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct disk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&d->ring, cqe);
		ring_completion(d, io, res);
	}
	pthread_mutex_lock(&d->lock);
	list = d->done;
	d->done = NULL;
	pthread_mutex_unlock(&d->lock);
	for (; list; list = next) {
		next = list->next;
		finish(d, list, list->res);
	}
	disk_kick(d);
}

void disk_drain(struct disk *d)
{
	struct pollfd p = {.fd = d->efd, .events = POLLIN};

	disk_kick(d);
	while (d->inflight) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		disk_complete(d);
	}
}

int disk_event_fd(const struct disk *d)
{
	return d->efd;
}

unsigned disk_inflight(const struct disk *d)
{
	return d->inflight;
}

uint64_t disk_size(const struct disk *d)
{
	return d->size;
}

bool disk_read_only(const struct disk *d)
{
	return d->read_only;
}

bool disk_direct(const struct disk *d)
{
	return d->direct;
}

/* Our own open file description, even for a descriptor the application
 * gave, so the lock and O_DIRECT are ours alone. */
static int open_backing(const struct vmk_storage_attachment *a, int flags)
{
	char proc[32];
	int fd;

	if (a->path)
		return open(a->path, flags);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", a->fd);
	fd = open(proc, flags);
	if (fd < 0 && errno == ENOENT) {
		fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 3);
		if (fd >= 0 && (flags & O_DIRECT) && fcntl(fd, F_SETFL, O_DIRECT) != 0) {
			close(fd);
			errno = EINVAL;
			fd = -1;
		}
	}
	return fd;
}

static bool open_fd(struct disk *d, const struct vmk_storage_attachment *a, const char *name,
		    const char *field, vmk_error **err)
{
	int flags = (a->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct flock lk = {.l_type = a->read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	struct stat st;

	d->direct = a->caching == VMK_DISK_CACHING_UNCACHED;
	d->fd = open_backing(a, flags | (d->direct ? O_DIRECT : 0));
	/* tmpfs and some FUSE file systems refuse O_DIRECT: run cached. */
	if (d->fd < 0 && d->direct && errno == EINVAL) {
		d->direct = false;
		d->fd = open_backing(a, flags);
	}
	if (d->fd < 0)
		return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno, "%s: cannot open %s",
				     field, name);
	if (fcntl(d->fd, F_OFD_SETLK, &lk) != 0) {
		if (errno == EAGAIN || errno == EACCES)
			return vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field,
					     "%s: %s is in use by another VM", field, name);
		return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno, "%s: cannot lock %s",
				     field, name);
	}
	if (fstat(d->fd, &st) != 0)
		return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno, "%s: %s", field, name);
	d->blockdev = S_ISBLK(st.st_mode);
	d->size = (uint64_t)st.st_size;
	if (d->blockdev && ioctl(d->fd, BLKGETSIZE64, &d->size) != 0)
		return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno,
				     "%s: cannot read the size of %s", field, name);
	/* Whole sectors only; storage_attachment_check() refused the rest,
	 * but the file may have changed since. */
	d->size &= ~511ull;
	return true;
}

static bool start_threads(struct disk *d, unsigned n, vmk_error **err)
{
	for (; d->nthreads < n; d->nthreads++) {
		int r = pthread_create(&d->threads[d->nthreads], NULL, worker, d);

		if (r)
			return vmk_set_errno(err, VMK_ERR_INTERNAL, "attachment", r,
					     "attachment: cannot start an I/O thread");
	}
	return true;
}

struct disk *disk_open(const struct vmk_storage_attachment *a, enum disk_engine engine, const char *field,
		       vmk_error **err)
{
	struct disk *d;
	char name[32];

	if (!a)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s is NULL", field), NULL;
	if (!storage_attachment_check(a, field, err))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field), NULL;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->work_tail = &d->work;
	d->fd = -1;
	d->read_only = a->read_only;
	d->sync = a->sync;
	d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(name, sizeof(name), "fd %d", a->fd);
	if (!open_fd(d, a, a->path ? a->path : name, field, err))
		goto fail;
	if (d->efd < 0) {
		vmk_set_errno(err, VMK_ERR_INTERNAL, field, errno, "%s: eventfd", field);
		goto fail;
	}
	if (engine != DISK_ENGINE_THREADS && io_uring_queue_init(RING_DEPTH, &d->ring, 0) == 0) {
		d->uring = true;
		if (io_uring_register_eventfd(&d->ring, d->efd) != 0) {
			vmk_set_error(err, VMK_ERR_INTERNAL, field, "%s: io_uring eventfd", field);
			goto fail;
		}
	} else if (engine == DISK_ENGINE_URING) {
		vmk_set_error(err, VMK_ERR_NOT_SUPPORTED, field, "attachment: io_uring is not available");
		goto fail;
	}
	if (!start_threads(d, d->uring ? 1 : POOL_THREADS, err))
		goto fail;
	return d;
fail:
	disk_close(d);
	return NULL;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	if (d->efd >= 0)
		disk_drain(d);
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	if (d->uring)
		io_uring_queue_exit(&d->ring);
	if (d->fd >= 0)
		close(d->fd);
	if (d->efd >= 0)
		close(d->efd);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}
