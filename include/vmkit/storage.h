/* Storage devices and their attachments (Apple: VZStorageDeviceConfiguration,
 * VZVirtioBlockDeviceConfiguration, VZDiskImageStorageDeviceAttachment,
 * VZDiskBlockDeviceStorageDeviceAttachment). */
#ifndef VMKIT_STORAGE_H
#define VMKIT_STORAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_storage_attachment vmk_storage_attachment;
typedef struct vmk_storage_device vmk_storage_device;

typedef enum vmk_disk_caching_mode {
	VMK_DISK_CACHING_AUTOMATIC = 0, /* cached */
	VMK_DISK_CACHING_CACHED,	/* through the host page cache */
	VMK_DISK_CACHING_UNCACHED,	/* O_DIRECT where the file system allows it */
} vmk_disk_caching_mode;

typedef enum vmk_disk_sync_mode {
	VMK_DISK_SYNC_FULL = 0, /* guest flushes reach stable storage (fdatasync) */
	VMK_DISK_SYNC_FSYNC,	/* guest flushes call fsync */
	VMK_DISK_SYNC_NONE,	/* guest flushes are ignored: fast, loses data on host crash */
} vmk_disk_sync_mode;

/* A raw disk image (or ISO) file. Fails at once on a missing file, a
 * directory, or no permission for the requested access. */
vmk_storage_attachment *vmk_disk_image_attachment_new(const char *path, bool read_only, vmk_error **err);
void vmk_disk_attachment_set_caching_mode(vmk_storage_attachment *a, vmk_disk_caching_mode mode);
void vmk_disk_attachment_set_sync_mode(vmk_storage_attachment *a, vmk_disk_sync_mode mode);
/* A host block device, by path or by a descriptor the application opened
 * (duplicated; the caller keeps its own). */
vmk_storage_attachment *vmk_block_device_attachment_new(const char *path, bool read_only, vmk_error **err);
vmk_storage_attachment *vmk_block_device_attachment_new_fd(int fd, bool read_only, vmk_error **err);
bool vmk_storage_attachment_is_read_only(const vmk_storage_attachment *a);
vmk_storage_attachment *vmk_storage_attachment_copy(const vmk_storage_attachment *a);
void vmk_storage_attachment_free(vmk_storage_attachment *a);

/* A virtio-blk device; a copy of a is kept. a may be NULL: an empty drive
 * whose media can be inserted at run time. */
vmk_storage_device *vmk_virtio_block_device_new(const vmk_storage_attachment *a);
/* The serial number the guest sees: at most 20 printable ASCII bytes. */
bool vmk_virtio_block_device_set_identifier(vmk_storage_device *d, const char *id, vmk_error **err);
/* Request queues (1 to 16, default 1). */
bool vmk_virtio_block_device_set_num_queues(vmk_storage_device *d, unsigned n, vmk_error **err);
vmk_storage_device *vmk_storage_device_copy(const vmk_storage_device *d);
void vmk_storage_device_free(vmk_storage_device *d);

#ifdef __cplusplus
}
#endif
#endif
