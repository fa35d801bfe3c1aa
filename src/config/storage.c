/* Storage devices and their attachments (Apple: VZVirtioBlockDeviceConfiguration,
 * VZDiskImageStorageDeviceAttachment, VZDiskBlockDeviceStorageDeviceAttachment).
 * Attachments check their file when created, as Apple's initializers do, so
 * a typo fails at the line that made it; validation checks again because
 * files change between configuration and start. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/storage_priv.h"
#include "util/error_priv.h"

#define SECTOR	   512
#define MAX_QUEUES 16

static const char *kind_name(const struct vmk_storage_attachment *a)
{
	return a->kind == STORAGE_ATTACH_IMAGE ? "disk image" : "block device";
}

/* Checks an open descriptor: type, size. name is the path or "fd N". */
static bool check_fd(const struct vmk_storage_attachment *a, int fd, const char *name, const char *field,
		     vmk_error **err)
{
	struct stat st;
	uint64_t size;

	if (fstat(fd, &st) != 0)
		return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno, "%s: %s", field, name);
	if (S_ISDIR(st.st_mode))
		return vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field, "%s: %s is a directory", field,
				     name);
	if (a->kind == STORAGE_ATTACH_BLOCKDEV && !S_ISBLK(st.st_mode))
		return vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field, "%s: %s is not a block device",
				     field, name);
	if (a->kind == STORAGE_ATTACH_IMAGE && !S_ISREG(st.st_mode))
		return vmk_set_error(
		    err, VMK_ERR_STORAGE_ATTACHMENT, field,
		    "%s: %s is not a regular file (use a block device attachment for devices)", field, name);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) != 0)
			return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno,
					     "%s: cannot read the size of %s", field, name);
	} else {
		size = (uint64_t)st.st_size;
	}
	if (size % SECTOR)
		return vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field,
				     "%s: %s is %llu bytes, not a multiple of %d-byte sectors", field, name,
				     (unsigned long long)size, SECTOR);
	return true;
}

bool storage_attachment_check(const struct vmk_storage_attachment *a, const char *field, vmk_error **err)
{
	struct stat st;
	char name[32];
	bool ok;
	int fd;

	if (!a->path) {
		snprintf(name, sizeof(name), "fd %d", a->fd);
		ok = check_fd(a, a->fd, name, field, err);
		if (ok && !a->read_only && (fcntl(a->fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
			ok = vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field,
					   "%s: %s is open read-only but the attachment is read-write", field,
					   name);
		return ok;
	}
	if (!*a->path)
		return vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field, "%s: no path given", field);
	/* stat first: opening a FIFO or a tape would block or have effects. */
	if (stat(a->path, &st) != 0)
		return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno, "%s: %s", field, a->path);
	if (S_ISDIR(st.st_mode))
		return vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field, "%s: %s is a directory", field,
				     a->path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return vmk_set_error(err, VMK_ERR_STORAGE_ATTACHMENT, field,
				     "%s: %s is neither a regular file nor a block device", field, a->path);
	fd = open(a->path, (a->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno, "%s: cannot open %s %s%s",
				     field, kind_name(a), a->path, a->read_only ? "" : " for writing");
	ok = check_fd(a, fd, a->path, field, err);
	close(fd);
	return ok;
}

static struct vmk_storage_attachment *attachment_new(enum storage_attachment_kind kind, const char *path,
						     int fd, bool read_only, vmk_error **err)
{
	struct vmk_storage_attachment *a = calloc(1, sizeof(*a));
	const char *field = "attachment";

	if (!a) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field);
		return NULL;
	}
	a->kind = kind;
	a->read_only = read_only;
	a->caching = VMK_DISK_CACHING_AUTOMATIC;
	a->sync = VMK_DISK_SYNC_FULL;
	a->fd = -1;
	if (path) {
		a->path = strdup(path);
		if (!a->path) {
			vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field);
			goto fail;
		}
	} else {
		a->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (a->fd < 0) {
			vmk_set_errno(err, VMK_ERR_STORAGE_ATTACHMENT, field, errno, "%s: file descriptor %d",
				      field, fd);
			goto fail;
		}
	}
	return a;
fail:
	vmk_storage_attachment_free(a);
	return NULL;
}

static vmk_storage_attachment *checked_new(enum storage_attachment_kind kind, const char *path,
					   bool read_only, vmk_error **err)
{
	struct vmk_storage_attachment *a;

	if (!path)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "attachment", "attachment: path is NULL"),
		       NULL;
	a = attachment_new(kind, path, -1, read_only, err);
	if (a && !storage_attachment_check(a, "attachment", err)) {
		vmk_storage_attachment_free(a);
		return NULL;
	}
	return a;
}

vmk_storage_attachment *vmk_disk_image_attachment_new(const char *path, bool read_only, vmk_error **err)
{
	return checked_new(STORAGE_ATTACH_IMAGE, path, read_only, err);
}

vmk_storage_attachment *vmk_block_device_attachment_new(const char *path, bool read_only, vmk_error **err)
{
	return checked_new(STORAGE_ATTACH_BLOCKDEV, path, read_only, err);
}

vmk_storage_attachment *vmk_block_device_attachment_new_fd(int fd, bool read_only, vmk_error **err)
{
	struct vmk_storage_attachment *a;

	if (fd < 0)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "attachment",
				     "attachment: file descriptor %d is not valid", fd),
		       NULL;
	a = attachment_new(STORAGE_ATTACH_BLOCKDEV, NULL, fd, read_only, err);
	if (a && !storage_attachment_check(a, "attachment", err)) {
		vmk_storage_attachment_free(a);
		return NULL;
	}
	return a;
}

void vmk_disk_attachment_set_caching_mode(vmk_storage_attachment *a, vmk_disk_caching_mode mode)
{
	if (a && mode >= VMK_DISK_CACHING_AUTOMATIC && mode <= VMK_DISK_CACHING_UNCACHED)
		a->caching = mode;
}

void vmk_disk_attachment_set_sync_mode(vmk_storage_attachment *a, vmk_disk_sync_mode mode)
{
	if (a && mode >= VMK_DISK_SYNC_FULL && mode <= VMK_DISK_SYNC_NONE)
		a->sync = mode;
}

bool vmk_storage_attachment_is_read_only(const vmk_storage_attachment *a)
{
	return a && a->read_only;
}

/* A copy does not recheck the file: copies are made by vmk_vm_new() and
 * vmk_config_copy(), whose callers get their answer from validation. */
vmk_storage_attachment *vmk_storage_attachment_copy(const vmk_storage_attachment *a)
{
	struct vmk_storage_attachment *c;

	if (!a)
		return NULL;
	c = attachment_new(a->kind, a->path, a->fd, a->read_only, NULL);
	if (c) {
		c->caching = a->caching;
		c->sync = a->sync;
	}
	return c;
}

void vmk_storage_attachment_free(vmk_storage_attachment *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
}

vmk_storage_device *vmk_virtio_block_device_new(const vmk_storage_attachment *a)
{
	struct vmk_storage_device *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->num_queues = 1;
	if (a) {
		d->attachment = vmk_storage_attachment_copy(a);
		if (!d->attachment) {
			free(d);
			return NULL;
		}
	}
	return d;
}

bool vmk_virtio_block_device_set_identifier(vmk_storage_device *d, const char *id, vmk_error **err)
{
	const char *field = "identifier";
	size_t len;

	if (!d || !id)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: %s is NULL", field,
				     d ? "identifier" : "device");
	len = strlen(id);
	if (len >= sizeof(d->identifier))
		return vmk_set_error(
		    err, VMK_ERR_DEVICE_IDENTIFIER, field,
		    "%s: \"%.40s%s\" is %zu bytes, more than the %zu a virtio-blk serial holds", field, id,
		    len > 40 ? "..." : "", len, sizeof(d->identifier) - 1);
	for (size_t i = 0; i < len; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			return vmk_set_error(err, VMK_ERR_DEVICE_IDENTIFIER, field,
					     "%s: byte %zu (0x%02x) is not printable ASCII", field, i,
					     (unsigned char)id[i]);
	memcpy(d->identifier, id, len + 1);
	return true;
}

bool vmk_virtio_block_device_set_num_queues(vmk_storage_device *d, unsigned n, vmk_error **err)
{
	const char *field = "num_queues";

	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: device is NULL", field);
	if (n < 1 || n > MAX_QUEUES)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: %u is not between 1 and %d",
				     field, n, MAX_QUEUES);
	d->num_queues = n;
	return true;
}

vmk_storage_device *vmk_storage_device_copy(const vmk_storage_device *d)
{
	struct vmk_storage_device *c;

	if (!d)
		return NULL;
	c = vmk_virtio_block_device_new(d->attachment);
	if (!c)
		return NULL;
	if (d->attachment && !c->attachment) {
		vmk_storage_device_free(c);
		return NULL;
	}
	memcpy(c->identifier, d->identifier, sizeof(c->identifier));
	c->num_queues = d->num_queues;
	return c;
}

void vmk_storage_device_free(vmk_storage_device *d)
{
	if (!d)
		return;
	vmk_storage_attachment_free(d->attachment);
	free(d);
}

bool vmk_config_add_storage_device(vmk_config *cfg, const vmk_storage_device *dev, vmk_error **err)
{
	struct vmk_storage_device *copy;
	const char *field = "storage_devices";

	if (!cfg || !dev)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s is NULL",
				     cfg ? "storage device" : "configuration");
	if (cfg->storage_count >= VMK_MAX_STORAGE_DEVICES)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, field, "%s: at most %d storage devices",
				     field, VMK_MAX_STORAGE_DEVICES);
	copy = vmk_storage_device_copy(dev);
	if (!copy)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field,
				     "%s: out of memory copying the device", field);
	cfg->storage[cfg->storage_count++] = copy;
	return true;
}

size_t vmk_config_get_storage_device_count(const vmk_config *cfg)
{
	return cfg ? cfg->storage_count : 0;
}

void storage_validate(const struct vmk_config *cfg, vmk_error **err)
{
	char field[64];

	for (size_t i = 0; i < cfg->storage_count; i++) {
		const struct vmk_storage_device *d = cfg->storage[i];

		snprintf(field, sizeof(field), "storage_devices[%zu].attachment", i);
		if (d->attachment)
			storage_attachment_check(d->attachment, field, err);
		if (d->num_queues < 1 || d->num_queues > MAX_QUEUES)
			vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "num_queues",
				      "storage_devices[%zu].num_queues: %u is not between 1 and %d", i,
				      d->num_queues, MAX_QUEUES);
	}
}
