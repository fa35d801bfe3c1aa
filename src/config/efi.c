/* UEFI firmware and variable store files. Both are flash images of PI
 * firmware volumes (PI spec vol. 3, 3.2.1 EFI_FIRMWARE_VOLUME_HEADER:
 * FileSystemGuid at 16, FvLength at 32, "_FVH" at 40, HeaderLength at 48);
 * a variable store is the volume whose FileSystemGuid is
 * EFI_SYSTEM_NV_DATA_FV_GUID. */
#include "config/efi_priv.h"
#include "util/error_priv.h"
#include <vmkit/boot_loader.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR	    4096
#define FV_HDR_READ 64

static const uint8_t nv_data_guid[16] = {0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c,
					 0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50};

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Opens path read-only and reads the volume header; reports why not. */
static int open_image(const char *path, vmk_error_code code, const char *field, uint8_t *hdr, uint64_t *size,
		      vmk_error **err)
{
	struct stat st;
	if (!path || !*path) {
		vmk_set_error(err, code, field, "%s: no path given", field);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		vmk_set_errno(err, code, field, errno, "%s: %s", field, path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		vmk_set_error(err, code, field, "%s: %s is not a regular file", field, path);
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	if (*size < FV_HDR_READ || pread(fd, hdr, FV_HDR_READ, 0) != FV_HDR_READ)
		memset(hdr, 0, FV_HDR_READ);
	return fd;
}

bool efi_check_firmware(const char *path, const char *field, uint64_t *size, vmk_error **err)
{
	uint8_t hdr[FV_HDR_READ];
	int fd = open_image(path, VMK_ERR_FIRMWARE, field, hdr, size, err);
	if (fd < 0)
		return false;
	close(fd);
	if (*size < 16 * SECTOR || *size % SECTOR || *size >= EFI_FLASH_MAX)
		return vmk_set_error(err, VMK_ERR_FIRMWARE, field,
				     "%s: %s is %llu bytes; UEFI firmware is a multiple of 4 KiB between "
				     "64 KiB and 16 MiB",
				     field, path, (unsigned long long)*size);
	if (memcmp(hdr + 40, "_FVH", 4) != 0)
		return vmk_set_error(err, VMK_ERR_FIRMWARE, field,
				     "%s: %s is not UEFI firmware (no firmware volume at its start)", field,
				     path);
	return true;
}

bool efi_check_variable_store(const char *path, bool need_write, const char *field, uint64_t *size,
			      vmk_error **err)
{
	uint8_t hdr[FV_HDR_READ];
	int fd = open_image(path, VMK_ERR_VARIABLE_STORE, field, hdr, size, err);
	if (fd < 0)
		return false;
	close(fd);
	uint64_t fv_len = le(hdr + 32, 8);
	if (memcmp(hdr + 40, "_FVH", 4) != 0 || memcmp(hdr + 16, nv_data_guid, 16) != 0 || fv_len == 0 ||
	    fv_len > *size || le(hdr + 48, 2) < 56)
		return vmk_set_error(err, VMK_ERR_VARIABLE_STORE, field,
				     "%s: %s is not a UEFI variable store (no NV data firmware volume)",
				     field, path);
	if (*size % SECTOR || *size >= EFI_FLASH_MAX)
		return vmk_set_error(err, VMK_ERR_VARIABLE_STORE, field,
				     "%s: %s is %llu bytes, not a multiple of 4 KiB below 16 MiB", field,
				     path, (unsigned long long)*size);
	if (!need_write)
		return true;
	struct stat st;
	/* The mode bits count even for root, who could write anyway. */
	if (stat(path, &st) == 0 && !(st.st_mode & 0222))
		return vmk_set_error(err, VMK_ERR_VARIABLE_STORE, field,
				     "%s: %s is read-only; the firmware must be able to write its variables",
				     field, path);
	if (access(path, W_OK) != 0)
		return vmk_set_errno(err, VMK_ERR_VARIABLE_STORE, field, errno,
				     "%s: %s is read-only; the firmware must be able to write its variables",
				     field, path);
	/* Changes are saved by renaming a new image over the file. */
	char *dup = strdup(path);
	bool ok = dup && access(dirname(dup), W_OK) == 0;
	int e = errno;
	free(dup);
	if (!ok)
		return vmk_set_errno(err, VMK_ERR_VARIABLE_STORE, field, e,
				     "%s: the folder of %s is not writable (needed to save it atomically)",
				     field, path);
	return true;
}

bool vmk_efi_variable_store_create(const char *path, const char *template_path, bool allow_overwrite,
				   vmk_error **err)
{
	const char *tpl = template_path ? template_path : VMK_EFI_DEFAULT_VARIABLE_STORE;
	uint64_t size;
	if (!efi_check_variable_store(tpl, false, "template", &size, err))
		return false;
	if (!path || !*path)
		return vmk_set_error(err, VMK_ERR_VARIABLE_STORE, "path", "path: no path given");
	if (!allow_overwrite && access(path, F_OK) == 0)
		return vmk_set_error(err, VMK_ERR_VARIABLE_STORE, "path",
				     "path: %s exists (allow overwriting to replace it)", path);
	/* Only a store is replaced: a mistyped path must not destroy a disk image. */
	uint64_t old_size;
	vmk_error *old_err = NULL;
	if (allow_overwrite && access(path, F_OK) == 0 &&
	    !efi_check_variable_store(path, false, "path", &old_size, &old_err)) {
		vmk_error_free(old_err);
		return vmk_set_error(err, VMK_ERR_VARIABLE_STORE, "path",
				     "path: %s is not a UEFI variable store; not replacing it", path);
	}
	uint8_t *buf = malloc(size);
	char *tmp = NULL;
	int in = -1, out = -1;
	bool ok = false;
	if (!buf || asprintf(&tmp, "%s.vmkit-tmp", path) < 0) {
		tmp = NULL;
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "path", "out of memory");
		goto done;
	}
	in = open(tpl, O_RDONLY | O_CLOEXEC);
	if (in < 0 || pread(in, buf, size, 0) != (ssize_t)size) {
		vmk_set_errno(err, VMK_ERR_VARIABLE_STORE, "template", errno, "template: cannot read %s",
			      tpl);
		goto done;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0 || write(out, buf, size) != (ssize_t)size || fsync(out) < 0) {
		vmk_set_errno(err, VMK_ERR_VARIABLE_STORE, "path", errno, "path: cannot write %s", tmp);
		unlink(tmp);
		goto done;
	}
	/* link() refuses an existing name atomically; rename() replaces it. */
	int r = allow_overwrite ? rename(tmp, path) : link(tmp, path);
	int e = errno;
	if (!allow_overwrite || r < 0)
		unlink(tmp);
	if (r < 0) {
		vmk_set_errno(err, VMK_ERR_VARIABLE_STORE, "path", e, "path: cannot create %s", path);
		goto done;
	}
	ok = true;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(buf);
	free(tmp);
	return ok;
}
