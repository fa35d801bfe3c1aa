/* Shared directories (Apple: VZVirtioFileSystemDeviceConfiguration with a
 * VZSingleDirectoryShare or a VZMultipleDirectoryShare of VZSharedDirectory).
 *
 * The guest sees a virtio-fs device and mounts it by its tag:
 *     mount -t virtiofs TAG /mnt
 * A single-directory share shows that directory as the mount's root. A
 * multiple-directory share shows a read-only root holding one directory per
 * name, each backed by its host directory.
 *
 * vmkit serves the files itself (a FUSE server in the VMM process, on a
 * thread of its own per device): it runs as whatever user the application
 * runs as, root or not. Files the guest creates belong to that user (to the
 * guest's caller when vmkit runs as root). The guest reaches nothing outside
 * the shared trees: every name is one path component resolved beneath its
 * directory, symbolic links are never followed on the host (the guest
 * resolves them itself), device nodes are neither made nor opened. A
 * read-only directory refuses every change with EROFS. */
#ifndef VMKIT_FILESYSTEM_H
#define VMKIT_FILESYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <vmkit/config.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_fs_device vmk_fs_device;

/* A tag is 1 to 36 bytes (the device's tag field; podman uses 36), no NUL. */
#define VMK_FS_TAG_MAX 36
/* Directories in one multiple-directory share. */
#define VMK_FS_MAX_DIRECTORIES 64
/* File system devices in one VM. */
#define VMK_MAX_FS_DEVICES 16

/* Apple: VZVirtioFileSystemDeviceConfiguration.validateTag. */
bool vmk_fs_device_validate_tag(const char *tag, vmk_error **err);

vmk_fs_device *vmk_fs_device_new(const char *tag, vmk_error **err);
void vmk_fs_device_free(vmk_fs_device *dev);
const char *vmk_fs_device_get_tag(const vmk_fs_device *dev);

/* A single-directory share (VZSingleDirectoryShare): the guest's mount is
 * path. Replaces whatever share was set. The directory is checked when the
 * configuration is validated. */
bool vmk_fs_device_set_directory(vmk_fs_device *dev, const char *path, bool read_only, vmk_error **err);

/* One directory of a multiple-directory share (VZMultipleDirectoryShare):
 * it appears as `name` (a file name: not empty, no '/', not . or .., at
 * most 255 bytes, unique) in the mount's root. Not combinable with
 * set_directory. */
bool vmk_fs_device_add_directory(vmk_fs_device *dev, const char *name, const char *path, bool read_only,
				 vmk_error **err);

/* 1 for a single share, the number of names for a multiple one, 0 unset. */
size_t vmk_fs_device_get_directory_count(const vmk_fs_device *dev);
/* Whether add_directory made it a multiple-directory share. */
bool vmk_fs_device_is_multiple(const vmk_fs_device *dev);

/* Adds a copy (at most VMK_MAX_FS_DEVICES, tags unique). */
bool vmk_config_add_fs_device(vmk_config *cfg, const vmk_fs_device *dev, vmk_error **err);
size_t vmk_config_get_fs_device_count(const vmk_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
