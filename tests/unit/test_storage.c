/* Storage: attachments and devices (creation checks, copies, validation),
 * the disk backend on scratch files with both engines, and the virtio-blk
 * request parser fed hand-made descriptor chains. No /dev/kvm needed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#include "attach/disk.h"
#include "check.h"
#include "config/config_priv.h"
#include "disk_run.h"
#include "virtio/blk.h"
#include "virtio/devices.h"

static char dir[] = "/var/tmp/vmkit-test-storage-XXXXXX";
static char path_buf[8][512];

static const char *tmp_path(int slot, const char *name)
{
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", dir, name);
	return path_buf[slot];
}

static void make_file(const char *path, size_t size, uint8_t fill)
{
	uint8_t *buf = malloc(size ? size : 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memset(buf, fill, size);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		perror(path);
	fsync(fd);
	close(fd);
	free(buf);
}

static uint8_t *slurp(const char *path, size_t size)
{
	uint8_t *buf = calloc(1, size);
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, buf, size) != (ssize_t)size)
		perror(path);
	close(fd);
	return buf;
}

static bool has_code(const vmk_error *e, vmk_error_code code, const char *in_message)
{
	for (; e; e = vmk_error_next(e))
		if (vmk_error_get_code(e) == code &&
		    (!in_message || strstr(vmk_error_get_message(e), in_message)))
			return true;
	return false;
}

/* Creates an attachment expected to fail with code and a message holding want. */
static void expect_refused(vmk_storage_attachment *a, vmk_error *err, vmk_error_code code, const char *want,
			   const char *name)
{
	CHECK(!a && has_code(err, code, want), "%s", name);
	if (!has_code(err, code, want))
		printf("# got: %s\n", vmk_error_get_message(err));
	vmk_storage_attachment_free(a);
	vmk_error_free(err);
}

static void test_attachments(void)
{
	vmk_error *err = NULL;
	vmk_storage_attachment *a;
	int fd;

	make_file(tmp_path(0, "disk.img"), 64 * 1024, 0);
	make_file(tmp_path(1, "odd.img"), 1000, 0);
	mkdir(tmp_path(2, "adir"), 0755);

	a = vmk_disk_image_attachment_new(tmp_path(0, "disk.img"), false, &err);
	CHECK(a && !err, "image attachment on a 64 KiB file");
	CHECK(!vmk_storage_attachment_is_read_only(a), "read-write by default");
	vmk_storage_attachment_free(a);

	a = vmk_disk_image_attachment_new(tmp_path(3, "missing.img"), true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "missing.img: No such file",
		       "missing file refused");
	err = NULL;
	a = vmk_disk_image_attachment_new(tmp_path(2, "adir"), true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "adir is a directory", "directory refused");
	err = NULL;
	a = vmk_block_device_attachment_new(tmp_path(0, "disk.img"), true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "disk.img is not a block device",
		       "block device attachment on a regular file refused");
	err = NULL;
	a = vmk_disk_image_attachment_new(tmp_path(1, "odd.img"), true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "1000 bytes, not a multiple of 512",
		       "size not a multiple of 512 refused");
	err = NULL;
	a = vmk_disk_image_attachment_new("/dev/null", true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "neither a regular file nor a block device",
		       "character device refused");
	err = NULL;
	a = vmk_disk_image_attachment_new(NULL, true, &err);
	expect_refused(a, err, VMK_ERR_INVALID_ARGUMENT, NULL, "NULL path refused");
	err = NULL;
	fd = open(tmp_path(0, "disk.img"), O_RDONLY);
	a = vmk_block_device_attachment_new_fd(fd, true, &err);
	expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "is not a block device",
		       "fd of a regular file refused");
	close(fd);
	if (geteuid() != 0) {
		err = NULL;
		chmod(tmp_path(0, "disk.img"), 0444);
		a = vmk_disk_image_attachment_new(tmp_path(0, "disk.img"), false, &err);
		expect_refused(a, err, VMK_ERR_STORAGE_ATTACHMENT, "for writing",
			       "no write permission refused");
		chmod(tmp_path(0, "disk.img"), 0644);
	} else {
		printf("ok %d - no write permission refused # SKIP running as root\n", ++check_n);
	}
	CHECK(strcmp(vmk_error_code_name(VMK_ERR_STORAGE_ATTACHMENT), "storage-attachment") == 0 &&
		  strcmp(vmk_error_code_name(VMK_ERR_DEVICE_IDENTIFIER), "device-identifier") == 0,
	      "error code names");
}

static void test_devices_and_copies(void)
{
	vmk_storage_attachment *a = vmk_disk_image_attachment_new(tmp_path(0, "disk.img"), true, NULL);
	vmk_storage_attachment *ac;
	vmk_storage_device *d, *dc;
	vmk_config *cfg, *cc;
	vmk_error *err = NULL;
	bool ok;

	vmk_disk_attachment_set_caching_mode(a, VMK_DISK_CACHING_UNCACHED);
	vmk_disk_attachment_set_sync_mode(a, VMK_DISK_SYNC_NONE);
	ac = vmk_storage_attachment_copy(a);
	vmk_storage_attachment_free(a);
	CHECK(ac && ac->read_only && ac->caching == VMK_DISK_CACHING_UNCACHED &&
		  ac->sync == VMK_DISK_SYNC_NONE && strcmp(ac->path, tmp_path(0, "disk.img")) == 0,
	      "attachment copy keeps every setting and outlives the original");

	d = vmk_virtio_block_device_new(ac);
	CHECK(d && d->attachment && d->attachment != ac && d->num_queues == 1, "device keeps its own copy");
	ok = vmk_virtio_block_device_set_identifier(d, "123456789012345678901", &err);
	CHECK(!ok && has_code(err, VMK_ERR_DEVICE_IDENTIFIER, "21 bytes"), "21-byte identifier refused");
	vmk_error_free(err);
	err = NULL;
	ok = vmk_virtio_block_device_set_identifier(d, "bad\x01id", &err);
	CHECK(!ok && has_code(err, VMK_ERR_DEVICE_IDENTIFIER, "0x01"), "non-printable identifier refused");
	vmk_error_free(err);
	err = NULL;
	CHECK(vmk_virtio_block_device_set_identifier(d, "12345678901234567890", NULL) &&
		  strcmp(d->identifier, "12345678901234567890") == 0,
	      "20-byte identifier accepted");
	CHECK(!vmk_virtio_block_device_set_num_queues(d, 0, NULL) &&
		  !vmk_virtio_block_device_set_num_queues(d, 17, NULL) &&
		  vmk_virtio_block_device_set_num_queues(d, 4, NULL) && d->num_queues == 4,
	      "num_queues between 1 and 16");

	dc = vmk_storage_device_copy(d);
	CHECK(dc && dc->attachment != d->attachment && dc->num_queues == 4 &&
		  strcmp(dc->identifier, d->identifier) == 0,
	      "device copy is deep");

	cfg = vmk_config_new();
	CHECK(vmk_config_add_storage_device(cfg, d, NULL) && vmk_config_get_storage_device_count(cfg) == 1,
	      "device added");
	vmk_virtio_block_device_set_num_queues(d, 2, NULL);
	CHECK(cfg->storage[0]->num_queues == 4, "configuration holds a copy");
	for (int i = 1; i < VMK_MAX_STORAGE_DEVICES; i++)
		vmk_config_add_storage_device(cfg, dc, NULL);
	ok = vmk_config_add_storage_device(cfg, dc, &err);
	CHECK(!ok && has_code(err, VMK_ERR_LIMIT_EXCEEDED, NULL), "17th device refused");
	vmk_error_free(err);
	err = NULL;
	cc = vmk_config_copy(cfg);
	CHECK(cc && cc->storage_count == 16 && cc->storage[0] != cfg->storage[0] &&
		  cc->storage[0]->attachment != cfg->storage[0]->attachment,
	      "configuration copy copies the storage devices");
	vmk_config_free(cc);
	vmk_config_free(cfg);

	/* The file goes away between configuration and validation. */
	make_file(tmp_path(4, "gone.img"), 4096, 0);
	a = vmk_disk_image_attachment_new(tmp_path(4, "gone.img"), false, NULL);
	vmk_storage_device_free(dc);
	dc = vmk_virtio_block_device_new(a);
	cfg = vmk_config_new();
	vmk_config_add_storage_device(cfg, dc, NULL);
	unlink(tmp_path(4, "gone.img"));
	vmk_config_validate(cfg, &err);
	CHECK(has_code(err, VMK_ERR_STORAGE_ATTACHMENT, "gone.img") &&
		  has_code(err, VMK_ERR_STORAGE_ATTACHMENT, "storage_devices[0].attachment"),
	      "validation rechecks the file");
	vmk_error_free(err);
	vmk_config_free(cfg);
	vmk_storage_device_free(dc);
	vmk_storage_device_free(d);
	vmk_storage_attachment_free(a);
	vmk_storage_attachment_free(ac);
}

static long blocks(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_blocks : -1;
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static struct disk *open_disk(const char *path, bool ro, vmk_disk_caching_mode cache, enum disk_engine engine,
			      vmk_error **err)
{
	vmk_storage_attachment *a = vmk_disk_image_attachment_new(path, ro, err);
	struct disk *d;

	if (!a)
		return NULL;
	vmk_disk_attachment_set_caching_mode(a, cache);
	d = disk_open(a, engine, "attachment", err);
	vmk_storage_attachment_free(a);
	return d;
}

static void test_backend(enum disk_engine engine, vmk_disk_caching_mode cache, const char *what)
{
	const char *path = tmp_path(5, "backend.img");
	size_t size = 4 << 20;
	uint8_t *buf = aligned_alloc(4096, 1 << 20), *back = aligned_alloc(4096, 1 << 20);
	char name[160];
	struct disk *d;
	struct disk_io io;
	long before;

	make_file(path, size, 0xaa);
	d = open_disk(path, false, cache, engine, NULL);
	snprintf(name, sizeof(name), "%s: open", what);
	CHECK(d && disk_size(d) == size, "%s", name);
	if (!d)
		return;
	for (size_t i = 0; i < (1 << 20); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	snprintf(name, sizeof(name), "%s: write then read back 1 MiB", what);
	CHECK(rw(d, DISK_WRITE, 1 << 20, buf, 1 << 20) == 0 &&
		  rw(d, DISK_READ, 1 << 20, back, 1 << 20) == 0 && memcmp(buf, back, 1 << 20) == 0,
	      "%s", name);
	io = (struct disk_io){.op = DISK_FLUSH};
	snprintf(name, sizeof(name), "%s: flush", what);
	CHECK(run(d, &io) == 0, "%s", name);
	snprintf(name, sizeof(name), "%s: read past the end refused", what);
	CHECK(rw(d, DISK_READ, size - 512, back, 1024) == -EINVAL, "%s", name);

	before = blocks(path);
	io = (struct disk_io){.op = DISK_DISCARD, .offset = 0, .len = 1 << 20};
	snprintf(name, sizeof(name), "%s: discard frees blocks and reads zeros", what);
	CHECK(run(d, &io) == 0 && blocks(path) <= before - 2048 && rw(d, DISK_READ, 0, back, 1 << 20) == 0 &&
		  all(back, 1 << 20, 0),
	      "%s", name);
	io = (struct disk_io){.op = DISK_WRITE_ZEROES, .offset = 1 << 20, .len = 512 * 1024};
	snprintf(name, sizeof(name), "%s: write zeroes keeps blocks", what);
	before = blocks(path);
	CHECK(run(d, &io) == 0 && blocks(path) >= before - 8 &&
		  rw(d, DISK_READ, 1 << 20, back, 1 << 20) == 0 && all(back, 512 * 1024, 0) &&
		  memcmp(back + 512 * 1024, buf + 512 * 1024, 512 * 1024) == 0,
	      "%s", name);
	io = (struct disk_io){.op = DISK_WRITE_ZEROES, .offset = 2 << 20, .len = 1 << 20, .may_unmap = true};
	snprintf(name, sizeof(name), "%s: write zeroes with unmap frees blocks", what);
	before = blocks(path);
	CHECK(run(d, &io) == 0 && blocks(path) <= before - 2048 &&
		  rw(d, DISK_READ, 2 << 20, back, 1 << 20) == 0 && all(back, 1 << 20, 0),
	      "%s", name);
	disk_close(d);
	free(buf);
	free(back);
}

static void test_read_only_and_locks(void)
{
	const char *path = tmp_path(6, "ro.img");
	size_t size = 1 << 20;
	uint8_t *orig, *after, buf[4096];
	struct disk *ro, *ro2, *rw2, *rw1;
	vmk_error *err = NULL;
	struct disk_io io;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	make_file(path, size, 0x5c);
	orig = slurp(path, size);
	ro = open_disk(path, true, VMK_DISK_CACHING_AUTOMATIC, DISK_ENGINE_AUTO, NULL);
	CHECK(ro && disk_read_only(ro), "read-only open");
	CHECK(rw(ro, DISK_WRITE, 0, buf, sizeof(buf)) == -EROFS, "read-only backend refuses writes");
	io = (struct disk_io){.op = DISK_DISCARD, .len = 4096};
	CHECK(run(ro, &io) == -EROFS, "read-only backend refuses discard");
	io = (struct disk_io){.op = DISK_WRITE_ZEROES, .len = 4096};
	CHECK(run(ro, &io) == -EROFS, "read-only backend refuses write zeroes");
	CHECK(rw(ro, DISK_READ, 0, buf, sizeof(buf)) == 0 && all(buf, sizeof(buf), 0x5c),
	      "read-only backend reads");

	ro2 = open_disk(path, true, VMK_DISK_CACHING_AUTOMATIC, DISK_ENGINE_AUTO, NULL);
	CHECK(ro2 != NULL, "two read-only opens share the image");
	rw2 = open_disk(path, false, VMK_DISK_CACHING_AUTOMATIC, DISK_ENGINE_AUTO, &err);
	CHECK(!rw2 && has_code(err, VMK_ERR_STORAGE_ATTACHMENT, "ro.img is in use by another VM"),
	      "read-write open of an image open read-only elsewhere refused");
	vmk_error_free(err);
	err = NULL;
	disk_close(ro);
	disk_close(ro2);
	after = slurp(path, size);
	CHECK(memcmp(orig, after, size) == 0, "read-only backend never changed the file");
	free(after);

	rw1 = open_disk(path, false, VMK_DISK_CACHING_AUTOMATIC, DISK_ENGINE_AUTO, NULL);
	rw2 = open_disk(path, false, VMK_DISK_CACHING_AUTOMATIC, DISK_ENGINE_AUTO, &err);
	CHECK(rw1 && !rw2 && has_code(err, VMK_ERR_STORAGE_ATTACHMENT, "is in use by another VM"),
	      "second read-write open refused");
	vmk_error_free(err);
	err = NULL;
	ro = open_disk(path, true, VMK_DISK_CACHING_AUTOMATIC, DISK_ENGINE_AUTO, &err);
	CHECK(!ro && err, "read-only open of an image open read-write elsewhere refused");
	vmk_error_free(err);
	disk_close(rw1);
	rw2 = open_disk(path, false, VMK_DISK_CACHING_AUTOMATIC, DISK_ENGINE_AUTO, NULL);
	CHECK(rw2 != NULL, "lock released on close");
	disk_close(rw2);
	free(orig);
}

/* Hand-made requests. hdr, data and status live in test memory, as guest
 * RAM would; the parser only sees iovecs. */
static struct virtq_elem elem;
static struct blk_request req;
static uint8_t hdr[16 + 16 * 40];
static uint8_t data[8192];
static uint8_t status;

static void set_hdr(uint32_t type, uint64_t sector)
{
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
}

static void set_seg(unsigned i, uint64_t sector, uint32_t n, uint32_t flags)
{
	memcpy(hdr + 16 + 16 * i, &sector, 8);
	memcpy(hdr + 24 + 16 * i, &n, 4);
	memcpy(hdr + 28 + 16 * i, &flags, 4);
}

static void chain(size_t hdr_len, size_t out_data, size_t in_data, bool with_status)
{
	memset(&elem, 0, sizeof(elem));
	elem.iov[elem.nout++] = (struct iovec){hdr, hdr_len};
	if (out_data)
		elem.iov[elem.nout++] = (struct iovec){data, out_data};
	if (in_data)
		elem.iov[elem.nout + elem.nin++] = (struct iovec){data, in_data};
	if (with_status)
		elem.iov[elem.nout + elem.nin++] = (struct iovec){&status, 1};
}

static int parse(uint64_t cap, bool ro)
{
	return blk_parse_request(&elem, cap, ro, &req);
}

static void test_parser(void)
{
	const uint64_t cap = 2048; /* 1 MiB */

	set_hdr(VIRTIO_BLK_T_IN, 8);
	chain(16, 0, 4096, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK && req.data_len == 4096 && req.niov == 1 &&
		  req.iov[0].iov_base == data && req.status == &status,
	      "read parsed");
	chain(8, 0, 4096, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR && req.status == &status, "header too short: IOERR");
	chain(16, 0, 0, false);
	CHECK(parse(cap, false) == -EINVAL, "no writable buffer: device broken");
	/* Without framing, the last data byte is the status: 4095 bytes of data. */
	chain(16, 0, 4096, false);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR && req.status == data + 4095,
	      "status byte taken from the data: IOERR");
	chain(16, 0, 0, false);
	elem.iov[elem.nout + elem.nin++] = (struct iovec){data, 0};
	CHECK(parse(cap, false) == -EINVAL, "only an empty writable buffer: device broken");
	chain(16, 0, 1000, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "data not a multiple of 512: IOERR");
	set_hdr(VIRTIO_BLK_T_IN, cap);
	chain(16, 0, 512, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "sector at capacity: IOERR");
	set_hdr(VIRTIO_BLK_T_IN, cap - 8);
	chain(16, 0, 4096, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK, "last 4 KiB readable");
	set_hdr(VIRTIO_BLK_T_IN, UINT64_MAX - 3);
	chain(16, 0, 4096, true);
	CHECK(parse(UINT64_MAX / 512, false) == VIRTIO_BLK_S_IOERR, "sector + length overflow: IOERR");
	set_hdr(VIRTIO_BLK_T_IN, 0);
	chain(16, 0, 4096, true);
	CHECK(parse(0, false) == VIRTIO_BLK_S_IOERR, "empty drive: IOERR");

	set_hdr(VIRTIO_BLK_T_OUT, 0);
	chain(16, 4096, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK && req.data_len == 4096, "write parsed");
	CHECK(parse(cap, true) == VIRTIO_BLK_S_IOERR, "write to read-only: IOERR");
	/* Header and data in one descriptor, as some drivers do. */
	set_hdr(VIRTIO_BLK_T_OUT, 0);
	chain(16 + 512, 0, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK && req.data_len == 512 && req.iov[0].iov_base == hdr + 16,
	      "header and data sharing a descriptor");
	/* Status inside the last data descriptor. */
	set_hdr(VIRTIO_BLK_T_IN, 0);
	chain(16, 0, 513, false);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK && req.status == data + 512 && req.data_len == 512,
	      "status byte sharing the data descriptor");

	set_hdr(VIRTIO_BLK_T_GET_ID, 0);
	chain(16, 0, 20, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK, "GET_ID with 20 bytes");
	chain(16, 0, 19, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "GET_ID with a short buffer: IOERR");
	set_hdr(VIRTIO_BLK_T_FLUSH, 0);
	chain(16, 0, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK, "flush parsed");
	set_hdr(42, 0);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_UNSUPP, "unknown type: UNSUPP");

	set_hdr(VIRTIO_BLK_T_DISCARD, 0);
	set_seg(0, 0, 8, 0);
	set_seg(1, 100, 100, 0);
	chain(48, 0, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK && req.nseg == 2 && req.seg[1].sector == 100,
	      "discard parsed");
	CHECK(parse(cap, true) == VIRTIO_BLK_S_IOERR, "discard on read-only: IOERR");
	set_seg(1, cap - 10, 11, 0);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "discard segment out of range: IOERR");
	set_seg(1, UINT64_MAX - 5, 10, 0);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "discard segment overflow: IOERR");
	set_seg(1, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_UNSUPP, "discard with the unmap flag: UNSUPP");
	chain(40, 0, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "partial discard segment: IOERR");
	chain(16, 0, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "discard without segments: IOERR");
	for (unsigned i = 0; i < 33; i++)
		set_seg(i, 0, 1, 0);
	chain(16 + 16 * 33, 0, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_IOERR, "more than max_discard_seg segments: IOERR");
	set_hdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	set_seg(0, 16, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	chain(32, 0, 0, true);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_OK && req.seg[0].unmap, "write zeroes with unmap parsed");
	set_seg(0, 16, 8, 2);
	CHECK(parse(cap, false) == VIRTIO_BLK_S_UNSUPP, "write zeroes with a reserved flag: UNSUPP");
}

/* Media change on a device not yet attached to a transport. */
static void test_media_change(void)
{
	vmk_storage_attachment *a, *ro;
	vmk_storage_device *cfg;
	struct virtio_blk *b;
	struct virtio_dev *dev;
	uint64_t capacity;
	vmk_error *err = NULL;

	make_file(tmp_path(7, "media.img"), 1 << 20, 0);
	cfg = vmk_virtio_block_device_new(NULL);
	b = virtio_blk_new(cfg, 0, &err);
	CHECK(b && !err, "empty drive created");
	if (!b)
		return;
	dev = virtio_blk_dev(b);
	memcpy(&capacity, dev->config, 8);
	CHECK(capacity == 0 && !(dev->features & (1ull << VIRTIO_BLK_F_RO)),
	      "empty drive: capacity 0, writable");
	a = vmk_disk_image_attachment_new(tmp_path(7, "media.img"), false, NULL);
	CHECK(virtio_blk_change_media(b, a, NULL), "media inserted");
	memcpy(&capacity, dev->config, 8);
	CHECK(capacity == 2048, "capacity follows the media");
	ro = vmk_disk_image_attachment_new(tmp_path(6, "ro.img"), true, NULL);
	CHECK(!virtio_blk_change_media(b, a, &err) && has_code(err, VMK_ERR_STORAGE_ATTACHMENT, "in use"),
	      "an image already open read-write is refused");
	vmk_error_free(err);
	CHECK(virtio_blk_change_media(b, ro, NULL), "read-only media inserted");
	CHECK(virtio_blk_change_media(b, NULL, NULL), "media ejected");
	memcpy(&capacity, dev->config, 8);
	CHECK(capacity == 0, "ejected: capacity 0");
	virtio_blk_free(b);
	vmk_storage_attachment_free(a);
	vmk_storage_attachment_free(ro);
	vmk_storage_device_free(cfg);
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_attachments();
	test_devices_and_copies();
	test_backend(DISK_ENGINE_URING, VMK_DISK_CACHING_CACHED, "io_uring, cached");
	test_backend(DISK_ENGINE_URING, VMK_DISK_CACHING_UNCACHED, "io_uring, O_DIRECT");
	test_backend(DISK_ENGINE_THREADS, VMK_DISK_CACHING_CACHED, "threads, cached");
	test_read_only_and_locks();
	test_parser();
	test_media_change();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return check_done();
}
