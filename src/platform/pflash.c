/* CFI01 flash (Intel/Sharp command set, 3.3 of Intel's "Common Flash
 * Interface" and QEMU's hw/block/pflash_cfi01.c) for what OVMF's
 * QemuFlashFvbServicesRuntimeDxe does: it probes with clear status (0x50)
 * and read status (0x70), programs bytes with 0x10/0x40 + data, erases
 * 4 KiB blocks with 0x20 + 0xd0 and returns to read array with 0xff.
 *
 * Persistence: the guest programs a variable a byte at a time, so writing
 * the file per byte would be ruinous and could tear. Instead, whenever the
 * guest returns the flash to read-array mode after changing it (the end of
 * one FVB write or erase), the image is marked dirty; a writer thread
 * copies the image, writes it to PATH.vmkit-tmp, fsyncs, and renames it over
 * PATH. rename() is atomic, so after a SIGKILL or a host crash the file is
 * either the previous or the next complete image, each a state the guest
 * had between two flash operations, which is what EDK2's fault-tolerant
 * variable store is designed to recover from (docs/design.md).
 *
 * Speed: OVMF reads its whole variable store at every boot. With the flash
 * as plain MMIO each of those reads is an exit to the VMM, so, as QEMU's
 * "romd" mode does, the owner may map the image as a read-only KVM memory
 * slot while the flash is in read-array mode (pflash_set_map_hook): reads
 * then cost nothing and only writes (commands) exit. Any command that
 * leaves read-array mode unmaps it first, so status and CFI reads exit and
 * come here again. */
#include "platform/pflash.h"
#include "platform/platform.h"
#include "util/error_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD_READ_ARRAY	  0xff
#define CMD_READ_ID	  0x90
#define CMD_CFI_QUERY	  0x98
#define CMD_READ_STATUS	  0x70
#define CMD_CLEAR_STATUS  0x50
#define CMD_PROGRAM	  0x10
#define CMD_PROGRAM_ALT	  0x40
#define CMD_ERASE	  0x20
#define CMD_ERASE_CONFIRM 0xd0

#define STATUS_READY	 (1u << 7)
#define STATUS_ERASE_ERR (1u << 5)
#define STATUS_PROG_ERR	 (1u << 4)
#define STATUS_LOCKED	 (1u << 1)

enum mode { MODE_ARRAY, MODE_STATUS, MODE_CFI, MODE_ID, MODE_PROGRAM, MODE_ERASE };

struct pflash {
	pthread_mutex_t lock;
	uint8_t *mem; /* anonymous mapping, size bytes */
	uint64_t size, base;
	bool writable;
	enum mode mode;
	uint8_t status;
	uint8_t cfi[0x40];
	bool changed; /* since the last return to read array */

	/* Writer thread (writable stores only). */
	char *path, *tmp_path;
	int lock_fd;
	mode_t file_mode;
	pthread_t writer;
	bool writer_running, stop;
	pthread_cond_t cond;
	bool snap_full; /* snap holds an image not yet in the file */
	bool pending;	/* a boundary newer than snap is not copied yet */
	uint8_t *snap;
	int save_errno;

	/* Read-array mapping (see above): mapped says whether the slot is in. */
	bool (*map_hook)(void *ctx, bool map);
	void *map_ctx;
	bool mapped;
};

static void build_cfi(struct pflash *p)
{
	uint8_t *c = p->cfi;
	unsigned log2 = 0;
	while ((1ULL << log2) < p->size)
		log2++;
	uint32_t blocks = (uint32_t)(p->size / PFLASH_SECTOR);
	c[0x10] = 'Q';
	c[0x11] = 'R';
	c[0x12] = 'Y';
	c[0x13] = 0x01; /* primary command set: Intel/Sharp extended */
	c[0x15] = 0x31; /* primary extended table address */
	c[0x1b] = 0x45; /* Vcc 4.5-5.5 V */
	c[0x1c] = 0x55;
	c[0x1f] = 0x07; /* typical byte program 128 us */
	c[0x21] = 0x0a; /* typical block erase 1 s */
	c[0x27] = (uint8_t)log2;
	c[0x28] = 0x00; /* x8 interface */
	c[0x2c] = 1;	/* one erase block region */
	c[0x2d] = (uint8_t)(blocks - 1);
	c[0x2e] = (uint8_t)((blocks - 1) >> 8);
	c[0x2f] = (uint8_t)(PFLASH_SECTOR >> 8);
	c[0x30] = (uint8_t)(PFLASH_SECTOR >> 16);
	c[0x31] = 'P';
	c[0x32] = 'R';
	c[0x33] = 'I';
	c[0x34] = '1';
	c[0x35] = '0';
}

static int save_image(struct pflash *p, const uint8_t *img)
{
	int fd = open(p->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, p->file_mode & 0777);
	if (fd < 0)
		return -errno;
	uint64_t done = 0;
	while (done < p->size) {
		ssize_t w = pwrite(fd, img + done, p->size - done, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			unlink(p->tmp_path);
			return -e;
		}
		done += (uint64_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		unlink(p->tmp_path);
		return -e;
	}
	if (rename(p->tmp_path, p->path) < 0)
		return -errno;
	/* The lock follows the file now at the path. */
	int nfd = open(p->path, O_RDONLY | O_CLOEXEC);
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	if (nfd >= 0 && fcntl(nfd, F_OFD_SETLK, &fl) == 0) {
		close(p->lock_fd);
		p->lock_fd = nfd;
	} else if (nfd >= 0) {
		close(nfd);
	}
	/* The rename itself is durable once the directory is. */
	char *dup = strdup(p->path);
	if (dup) {
		int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dup);
	}
	return 0;
}

/* Lock held. The image equals the state at the guest's last sequence
 * boundary only while nothing changed since: that is the moment to copy. */
static void take_snapshot(struct pflash *p)
{
	memcpy(p->snap, p->mem, p->size);
	p->snap_full = true;
	p->pending = false;
	pthread_cond_broadcast(&p->cond);
}

static void *writer_main(void *arg)
{
	struct pflash *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->snap_full && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->snap_full)
			break;
		pthread_mutex_unlock(&p->lock);
		int r = save_image(p, p->snap);
		pthread_mutex_lock(&p->lock);
		if (r < 0)
			p->save_errno = -r;
		p->snap_full = false;
		if (p->pending && !p->changed)
			take_snapshot(p);
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Called with the lock held when the guest ends a command sequence. */
static void end_sequence(struct pflash *p)
{
	p->mode = MODE_ARRAY;
	if (!p->changed || !p->writer_running)
		return;
	p->changed = false;
	/* While the writer is busy the newest boundary waits; the writer takes
	 * it when done, unless the guest is already changing the image again,
	 * in which case the next boundary does. */
	if (p->snap_full)
		p->pending = true;
	else
		take_snapshot(p);
}

static void pflash_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pflash *p = opaque;
	pthread_mutex_lock(&p->lock);
	switch (p->mode) {
	case MODE_ARRAY:
		memcpy(data, p->mem + off, size);
		break;
	case MODE_CFI:
		for (unsigned i = 0; i < size; i++)
			data[i] = off + i < sizeof(p->cfi) ? p->cfi[off + i] : 0;
		break;
	case MODE_ID:
		for (unsigned i = 0; i < size; i++) {
			uint64_t a = (off + i) & 0xff;
			/* Intel manufacturer code, QEMU's device id 0 */
			data[i] = a == 0 ? 0x89 : 0;
		}
		break;
	default:
		/* Status (also while a sequence waits for its data). */
		memset(data, p->status, size);
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

/* Lock held, after a command. The slot must be out whenever reads mean
 * something other than the array. Should unmapping fail, the command is
 * refused and the flash stays in read-array mode, where the still mapped
 * contents are the right answer to reads. */
static void sync_mapping(struct pflash *p, enum mode prev)
{
	bool want = p->mode == MODE_ARRAY;
	if (!p->map_hook || want == p->mapped)
		return;
	if (p->map_hook(p->map_ctx, want)) {
		p->mapped = want;
	} else if (!want) {
		p->mode = prev;
		p->status |= STATUS_PROG_ERR | STATUS_ERASE_ERR;
	}
}

static void pflash_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct pflash *p = opaque;
	uint8_t cmd = data[0];
	pthread_mutex_lock(&p->lock);
	enum mode prev = p->mode;
	switch (p->mode) {
	case MODE_PROGRAM:
		if (!p->writable) {
			p->status |= STATUS_PROG_ERR | STATUS_LOCKED;
		} else {
			memcpy(p->mem + off, data, size);
			p->changed = true;
		}
		p->status |= STATUS_READY;
		p->mode = MODE_STATUS;
		break;
	case MODE_ERASE:
		if (cmd != CMD_ERASE_CONFIRM) {
			p->status |= STATUS_ERASE_ERR | STATUS_PROG_ERR;
		} else if (!p->writable) {
			p->status |= STATUS_ERASE_ERR | STATUS_LOCKED;
		} else {
			memset(p->mem + (off & ~(uint64_t)(PFLASH_SECTOR - 1)), 0xff, PFLASH_SECTOR);
			p->changed = true;
		}
		p->status |= STATUS_READY;
		p->mode = MODE_STATUS;
		break;
	default:
		switch (cmd) {
		case CMD_PROGRAM:
		case CMD_PROGRAM_ALT:
			p->mode = MODE_PROGRAM;
			break;
		case CMD_ERASE:
			p->mode = MODE_ERASE;
			break;
		case CMD_READ_STATUS:
			p->mode = MODE_STATUS;
			break;
		case CMD_CLEAR_STATUS:
			p->status = 0;
			end_sequence(p);
			break;
		case CMD_CFI_QUERY:
			p->mode = MODE_CFI;
			break;
		case CMD_READ_ID:
			p->mode = MODE_ID;
			break;
		default:
			/* 0xff and anything this flash does not know. */
			end_sequence(p);
			break;
		}
		break;
	}
	sync_mapping(p, prev);
	pthread_mutex_unlock(&p->lock);
}

static bool load(struct pflash *p, int fd, const char *path, const char *field, vmk_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return vmk_set_errno(err, VMK_ERR_INVALID_ARGUMENT, field, errno, "%s", path);
	if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size % PFLASH_SECTOR || st.st_size > (64 << 20))
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field,
				     "%s: not a flash image (a regular file of whole 4 KiB sectors)", path);
	p->size = (uint64_t)st.st_size;
	p->file_mode = st.st_mode;
	void *m = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return vmk_set_errno(err, VMK_ERR_OUT_OF_MEMORY, field, errno, "%s", path);
	p->mem = m;
	uint64_t done = 0;
	while (done < p->size) {
		ssize_t r = pread(fd, p->mem + done, p->size - done, (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return vmk_set_errno(err, VMK_ERR_INVALID_ARGUMENT, field, r < 0 ? errno : EIO,
					     "%s: cannot read", path);
		done += (uint64_t)r;
	}
	return true;
}

struct pflash *pflash_new(const char *path, bool writable, uint64_t base, const char *field, vmk_error **err)
{
	struct pflash *p = calloc(1, sizeof(*p));
	if (!p) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->lock_fd = -1;
	p->base = base;
	p->writable = writable;
	p->status = STATUS_READY;
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		vmk_set_errno(err, VMK_ERR_INVALID_ARGUMENT, field, errno, "%s", path);
		goto fail;
	}
	p->lock_fd = fd;
	if (!load(p, fd, path, field, err))
		goto fail;
	build_cfi(p);
	if (writable) {
		/* Two VMs writing one store would each rename their own image
		 * over the other's. */
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			vmk_set_errno(err, VMK_ERR_INVALID_ARGUMENT, field, errno,
				      "%s: in use by another virtual machine", path);
			goto fail;
		}
		p->path = strdup(path);
		p->snap = malloc(p->size);
		if (p->path && asprintf(&p->tmp_path, "%s.vmkit-tmp", path) < 0)
			p->tmp_path = NULL;
		if (!p->path || !p->tmp_path || !p->snap) {
			vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "out of memory");
			goto fail;
		}
		int r = pthread_create(&p->writer, NULL, writer_main, p);
		if (r) {
			vmk_set_errno(err, VMK_ERR_INTERNAL, field, r, "cannot start the flash writer");
			goto fail;
		}
		p->writer_running = true;
	}
	return p;
fail:
	pflash_free(p);
	return NULL;
}

int pflash_attach(struct pflash *p, struct bus *mmio)
{
	struct bus_dev d = {.name = p->writable ? "pflash-vars" : "pflash-code",
			    .base = p->base,
			    .len = p->size,
			    .opaque = p,
			    .read = pflash_read,
			    .write = pflash_write};
	return bus_register(mmio, &d);
}

bool pflash_set_map_hook(struct pflash *p, bool (*hook)(void *ctx, bool map), void *ctx)
{
	pthread_mutex_lock(&p->lock);
	p->map_hook = hook;
	p->map_ctx = ctx;
	p->mapped = false;
	bool ok = p->mode != MODE_ARRAY || hook(ctx, true);
	p->mapped = ok && p->mode == MODE_ARRAY;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void pflash_set_base(struct pflash *p, uint64_t base)
{
	p->base = base;
}

uint64_t pflash_size(const struct pflash *p)
{
	return p->size;
}

uint64_t pflash_base(const struct pflash *p)
{
	return p->base;
}

uint8_t *pflash_host(struct pflash *p)
{
	return p->mem;
}

void pflash_sync(struct pflash *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->writer_running) {
		/* A sequence the guest never finished still counts at the end. */
		if (p->changed) {
			p->changed = false;
			p->pending = true;
		}
		while (p->snap_full || p->pending) {
			if (!p->snap_full)
				take_snapshot(p);
			else
				pthread_cond_wait(&p->cond, &p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void pflash_free(struct pflash *p)
{
	if (!p)
		return;
	if (p->writer_running) {
		pflash_sync(p);
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->writer, NULL);
	}
	if (p->mem)
		munmap(p->mem, p->size);
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	free(p->snap);
	free(p->path);
	free(p->tmp_path);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
