/* Host block device attachments on a real block device: a loop device over
 * a scratch file, set up with the loop ioctls (no losetup). Checks both
 * constructors, what the disk backend sees (size from BLKGETSIZE64, the
 * file's bytes, writes reaching the file, zeroing, locks) with both engines,
 * and the documented rules: a disk image attachment takes regular files
 * only, a block device attachment block devices only. Needs root and loop
 * support; without them the loop part is skipped with a reason. No /dev/kvm
 * needed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#include "attach/disk.h"
#include "check.h"
#include "disk_run.h"

#define FILE_SIZE (4u << 20)

static char dir[] = "/var/tmp/vmkit-test-blockdev-XXXXXX";
static char file_path[512], loop_path[64];
static int loop_fd = -1;

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 13 + (i >> 12) + 5);
}

static bool has_code(const vmk_error *e, vmk_error_code code, const char *in_message)
{
	for (; e; e = vmk_error_next(e))
		if (vmk_error_get_code(e) == code &&
		    (!in_message || strstr(vmk_error_get_message(e), in_message)))
			return true;
	return false;
}

static void expect_refused(vmk_storage_attachment *a, vmk_error *err, vmk_error_code code, const char *want,
			   const char *name)
{
	CHECK(!a && has_code(err, code, want), "%s", name);
	if (!has_code(err, code, want))
		printf("# got: %s\n", err ? vmk_error_get_message(err) : "(no error)");
	vmk_storage_attachment_free(a);
	vmk_error_free(err);
}

static bool make_backing_file(void)
{
	uint8_t *buf = malloc(FILE_SIZE);
	int fd = open(file_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	bool ok;

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return false;
	}
	for (size_t i = 0; i < FILE_SIZE; i++)
		buf[i] = pattern(i);
	ok = write(fd, buf, FILE_SIZE) == (ssize_t)FILE_SIZE && fsync(fd) == 0;
	close(fd);
	free(buf);
	return ok;
}

/* Binds a free loop device to the backing file. Returns NULL on success or
 * why it could not (the reason for the skip). */
static const char *loop_attach(void)
{
	static char why[160];
	int ctl, file, n, r = -1;

	if (geteuid() != 0)
		return "not running as root";
	if (access("/dev/loop-control", F_OK) != 0)
		return "no /dev/loop-control (no loop support)";
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		snprintf(why, sizeof(why), "/dev/loop-control: %s", strerror(errno));
		return why;
	}
	file = open(file_path, O_RDWR | O_CLOEXEC);
	if (file < 0) {
		close(ctl);
		return "cannot open the backing file";
	}
	/* Another process may take the free device between the two calls. */
	for (int tries = 0; tries < 10 && r != 0; tries++) {
		struct loop_config cfg = {.fd = (unsigned)file, .block_size = 512};

		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			snprintf(why, sizeof(why), "LOOP_CTL_GET_FREE: %s", strerror(errno));
			break;
		}
		snprintf(loop_path, sizeof(loop_path), "/dev/loop%d", n);
		loop_fd = open(loop_path, O_RDWR | O_CLOEXEC);
		if (loop_fd < 0) {
			snprintf(why, sizeof(why), "%s: %s", loop_path, strerror(errno));
			break;
		}
		/* Autoclear: the device is freed even if this test dies. */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, LO_NAME_SIZE, "%.*s", LO_NAME_SIZE - 1, file_path);
		r = ioctl(loop_fd, LOOP_CONFIGURE, &cfg);
		if (r != 0 && (errno == EINVAL || errno == ENOTTY)) {
			/* Kernels before 5.8: LOOP_SET_FD, then the flags. */
			r = ioctl(loop_fd, LOOP_SET_FD, file);
			if (r == 0 && ioctl(loop_fd, LOOP_SET_STATUS64, &cfg.info) != 0) {
				ioctl(loop_fd, LOOP_CLR_FD, 0);
				r = -1;
			}
		}
		if (r != 0) {
			snprintf(why, sizeof(why), "LOOP_CONFIGURE %s: %s", loop_path, strerror(errno));
			close(loop_fd);
			loop_fd = -1;
			if (errno != EBUSY)
				break;
		}
	}
	close(file);
	close(ctl);
	return r == 0 ? NULL : why;
}

static void loop_detach(void)
{
	CHECK(ioctl(loop_fd, LOOP_CLR_FD, 0) == 0, "loop device detached (LOOP_CLR_FD)");
	close(loop_fd);
	loop_fd = -1;
}

static bool matches_pattern(const uint8_t *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(off + i))
			return false;
	return true;
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* The bytes of the backing file itself, read past the loop device. */
static bool file_has(size_t off, const uint8_t *want, size_t n)
{
	uint8_t *buf = malloc(n);
	int fd = open(file_path, O_RDONLY | O_CLOEXEC);
	bool ok = buf && fd >= 0 && pread(fd, buf, n, (off_t)off) == (ssize_t)n && memcmp(buf, want, n) == 0;

	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

static void test_attachments(void)
{
	vmk_storage_attachment *a;
	vmk_error *err = NULL;
	uint64_t size = 0;
	int fd, rofd;

	CHECK(ioctl(loop_fd, BLKGETSIZE64, &size) == 0 && size == FILE_SIZE,
	      "the loop device is as large as its file (BLKGETSIZE64)");

	a = vmk_block_device_attachment_new(loop_path, false, &err);
	CHECK(a && !err && !vmk_storage_attachment_is_read_only(a), "block device attachment by path");
	vmk_storage_attachment_free(a);
	vmk_error_free(err);
	err = NULL;
	a = vmk_block_device_attachment_new(loop_path, true, &err);
	CHECK(a && !err && vmk_storage_attachment_is_read_only(a),
	      "read-only block device attachment by path");
	vmk_storage_attachment_free(a);
	vmk_error_free(err);
	err = NULL;

	fd = open(loop_path, O_RDWR | O_CLOEXEC);
	a = vmk_block_device_attachment_new_fd(fd, false, &err);
	CHECK(a && !err && !vmk_storage_attachment_is_read_only(a), "block device attachment by descriptor");
	vmk_storage_attachment_free(a);
	vmk_error_free(err);
	err = NULL;
	CHECK(fcntl(fd, F_GETFD) >= 0, "the caller keeps its descriptor");
	close(fd);
	rofd = open(loop_path, O_RDONLY | O_CLOEXEC);
	a = vmk_block_device_attachment_new_fd(rofd, true, &err);
	CHECK(a && !err && vmk_storage_attachment_is_read_only(a),
	      "read-only attachment on a read-only descriptor");
	vmk_storage_attachment_free(a);
	vmk_error_free(err);
	err = NULL;
	a = vmk_block_device_attachment_new_fd(rofd, false, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "open read-only but the attachment is read-write",
		       "read-write attachment on a read-only descriptor refused");
	close(rofd);

	/* docs/cli.md, storage.h: an image attachment takes a regular file,
	 * devices need a block device attachment. */
	err = NULL;
	a = vmk_disk_image_attachment_new(loop_path, true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT,
		       "is not a regular file (use a block device attachment",
		       "disk image attachment on a block device refused");
}

static struct disk *open_dev(vmk_storage_attachment *a, bool free_a, enum disk_engine engine,
			     vmk_disk_caching_mode cache, vmk_error **err)
{
	struct disk *d = NULL;

	if (a) {
		vmk_disk_attachment_set_caching_mode(a, cache);
		d = disk_open(a, engine, "attachment", err);
	}
	if (free_a)
		vmk_storage_attachment_free(a);
	return d;
}

static void test_backend(enum disk_engine engine, vmk_disk_caching_mode cache, const char *what)
{
	size_t mib = 1 << 20;
	uint8_t *buf = aligned_alloc(4096, mib), *back = aligned_alloc(4096, mib);
	struct disk_io io;
	struct disk *d;
	char name[160];

	d = open_dev(vmk_block_device_attachment_new(loop_path, false, NULL), true, engine, cache, NULL);
	snprintf(name, sizeof(name), "%s: open, size %u", what, FILE_SIZE);
	CHECK(d && disk_size(d) == FILE_SIZE, "%s", name);
	if (!d)
		goto out;
	snprintf(name, sizeof(name), "%s: reads the file's bytes", what);
	CHECK(rw(d, DISK_READ, 0, back, mib) == 0 && matches_pattern(back, 0, mib) &&
		  rw(d, DISK_READ, FILE_SIZE - mib, back, mib) == 0 &&
		  matches_pattern(back, FILE_SIZE - mib, mib),
	      "%s", name);
	snprintf(name, sizeof(name), "%s: read past the end refused", what);
	CHECK(rw(d, DISK_READ, FILE_SIZE - 512, back, 1024) == -EINVAL, "%s", name);

	for (size_t i = 0; i < mib; i++)
		buf[i] = (uint8_t)~pattern(i);
	io = (struct disk_io){.op = DISK_FLUSH};
	snprintf(name, sizeof(name), "%s: a write reaches the file after a flush", what);
	CHECK(rw(d, DISK_WRITE, mib, buf, mib) == 0 && run(d, &io) == 0 && file_has(mib, buf, mib) &&
		  rw(d, DISK_READ, mib, back, mib) == 0 && memcmp(back, buf, mib) == 0,
	      "%s", name);
	io = (struct disk_io){.op = DISK_WRITE_ZEROES, .offset = mib, .len = mib / 2};
	snprintf(name, sizeof(name), "%s: write zeroes (block device path) reads zeros", what);
	CHECK(run(d, &io) == 0 && rw(d, DISK_READ, mib, back, mib) == 0 && all(back, mib / 2, 0) &&
		  memcmp(back + mib / 2, buf + mib / 2, mib / 2) == 0,
	      "%s", name);
	io = (struct disk_io){.op = DISK_WRITE_ZEROES, .offset = 2 * mib, .len = mib, .may_unmap = true};
	snprintf(name, sizeof(name), "%s: write zeroes with unmap reads zeros", what);
	CHECK(run(d, &io) == 0 && rw(d, DISK_READ, 2 * mib, back, mib) == 0 && all(back, mib, 0), "%s", name);
	io = (struct disk_io){.op = DISK_DISCARD, .offset = 3 * mib, .len = mib};
	snprintf(name, sizeof(name), "%s: discard (BLKDISCARD) succeeds", what);
	CHECK(run(d, &io) == 0, "%s", name);
	disk_close(d);
out:
	free(buf);
	free(back);
	/* Put the pattern back for the next pass, and drop the device's own
	 * page cache, which would still hold the old bytes. */
	make_backing_file();
	ioctl(loop_fd, BLKFLSBUF, 0);
}

static void test_fd_read_only_and_locks(void)
{
	uint8_t buf[4096];
	vmk_storage_attachment *a;
	struct disk *ro, *rw1, *rw2;
	vmk_error *err = NULL;
	int fd = open(loop_path, O_RDONLY | O_CLOEXEC);

	a = vmk_block_device_attachment_new_fd(fd, true, NULL);
	close(fd); /* the attachment holds its own duplicate */
	ro = open_dev(a, true, DISK_ENGINE_AUTO, VMK_DISK_CACHING_AUTOMATIC, NULL);
	CHECK(ro && disk_size(ro) == FILE_SIZE && disk_read_only(ro),
	      "descriptor attachment: open read-only");
	if (!ro)
		return;
	CHECK(rw(ro, DISK_READ, 8192, buf, sizeof(buf)) == 0 && matches_pattern(buf, 8192, sizeof(buf)),
	      "descriptor attachment: reads the file's bytes");
	CHECK(rw(ro, DISK_WRITE, 0, buf, sizeof(buf)) == -EROFS,
	      "descriptor attachment: a write is refused (EROFS)");

	rw1 = open_dev(vmk_block_device_attachment_new(loop_path, false, NULL), true, DISK_ENGINE_AUTO,
		       VMK_DISK_CACHING_AUTOMATIC, &err);
	CHECK(!rw1 && has_code(err, VMK_ERR_STORAGE_ATTACHMENT, "in use"),
	      "read-write open refused while a reader holds the device");
	vmk_error_free(err);
	err = NULL;
	disk_close(rw1);
	disk_close(ro);

	rw1 = open_dev(vmk_block_device_attachment_new(loop_path, false, NULL), true, DISK_ENGINE_AUTO,
		       VMK_DISK_CACHING_AUTOMATIC, NULL);
	rw2 = open_dev(vmk_block_device_attachment_new(loop_path, false, NULL), true, DISK_ENGINE_AUTO,
		       VMK_DISK_CACHING_AUTOMATIC, &err);
	CHECK(rw1 && !rw2 && has_code(err, VMK_ERR_STORAGE_ATTACHMENT, "in use"),
	      "two read-write users of one block device refused");
	vmk_error_free(err);
	disk_close(rw2);
	disk_close(rw1);
}

int main(void)
{
	vmk_storage_attachment *a;
	vmk_error *err = NULL;
	const char *why;
	char cmd[600];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(file_path, sizeof(file_path), "%s/backing.img", dir);
	CHECK(make_backing_file(), "backing file written");

	a = vmk_block_device_attachment_new(file_path, true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "is not a block device",
		       "block device attachment on a regular file refused");

	why = loop_attach();
	if (why) {
		printf("ok %d - loop device block device tests # SKIP %s\n", ++check_n, why);
	} else {
		printf("# %s over %s\n", loop_path, file_path);
		test_attachments();
		test_backend(DISK_ENGINE_URING, VMK_DISK_CACHING_CACHED, "loop, io_uring, cached");
		test_backend(DISK_ENGINE_URING, VMK_DISK_CACHING_UNCACHED, "loop, io_uring, O_DIRECT");
		test_backend(DISK_ENGINE_THREADS, VMK_DISK_CACHING_CACHED, "loop, threads, cached");
		test_fd_read_only_and_locks();
		loop_detach();
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return check_done();
}
