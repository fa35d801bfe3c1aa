/* Shared-directory devices' configuration (Apple:
 * VZVirtioFileSystemDeviceConfiguration, VZSingleDirectoryShare,
 * VZMultipleDirectoryShare, VZSharedDirectory). Tags and names are checked as
 * they are set; the directories themselves when the configuration is
 * validated, so a configuration can be built before they exist. */
#include "config/config_priv.h"
#include "util/error_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool vmk_fs_device_validate_tag(const char *tag, vmk_error **err)
{
	if (!tag || !*tag)
		return vmk_set_error(err, VMK_ERR_FS_DEVICE, "tag", "tag: empty");
	if (strlen(tag) > VMK_FS_TAG_MAX)
		return vmk_set_error(err, VMK_ERR_FS_DEVICE, "tag",
				     "tag: \"%s\" is %zu bytes, at most %d fit the device", tag, strlen(tag),
				     VMK_FS_TAG_MAX);
	return true;
}

vmk_fs_device *vmk_fs_device_new(const char *tag, vmk_error **err)
{
	if (!vmk_fs_device_validate_tag(tag, err))
		return NULL;
	vmk_fs_device *d = calloc(1, sizeof(*d));
	if (!d) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "fs_device", "out of memory");
		return NULL;
	}
	memcpy(d->tag, tag, strlen(tag) + 1);
	return d;
}

static void clear_dirs(vmk_fs_device *d)
{
	for (size_t i = 0; i < d->ndirs; i++) {
		free(d->dirs[i].name);
		free(d->dirs[i].path);
	}
	d->ndirs = 0;
	d->multiple = false;
}

void vmk_fs_device_free(vmk_fs_device *d)
{
	if (!d)
		return;
	clear_dirs(d);
	free(d);
}

const char *vmk_fs_device_get_tag(const vmk_fs_device *d)
{
	return d ? d->tag : NULL;
}

size_t vmk_fs_device_get_directory_count(const vmk_fs_device *d)
{
	return d ? d->ndirs : 0;
}

bool vmk_fs_device_is_multiple(const vmk_fs_device *d)
{
	return d && d->multiple;
}

static bool check_path(const char *path, vmk_error **err)
{
	if (!path || !*path)
		return vmk_set_error(err, VMK_ERR_FS_DEVICE, "directory", "directory: empty path");
	if (strlen(path) >= 4096)
		return vmk_set_error(err, VMK_ERR_FS_DEVICE, "directory",
				     "directory: path longer than 4095 bytes");
	return true;
}

bool vmk_fs_device_set_directory(vmk_fs_device *d, const char *path, bool read_only, vmk_error **err)
{
	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "fs_device", "fs device is NULL");
	if (!check_path(path, err))
		return false;
	char *p = strdup(path);
	if (!p)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "directory", "out of memory");
	clear_dirs(d);
	d->dirs[0] = (struct fs_directory){.path = p, .read_only = read_only};
	d->ndirs = 1;
	return true;
}

bool vmk_fs_device_add_directory(vmk_fs_device *d, const char *name, const char *path, bool read_only,
				 vmk_error **err)
{
	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "fs_device", "fs device is NULL");
	if (d->ndirs && !d->multiple)
		return vmk_set_error(err, VMK_ERR_FS_DEVICE, "directories",
				     "directories: the device already shares one directory (%s)",
				     d->dirs[0].path);
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strlen(name) > 255)
		return vmk_set_error(err, VMK_ERR_FS_DEVICE, "name",
				     "name: \"%s\" is not a file name (1-255 bytes, no '/', not . or ..)",
				     name ? name : "(null)");
	if (!check_path(path, err))
		return false;
	for (size_t i = 0; i < d->ndirs; i++)
		if (!strcmp(d->dirs[i].name, name))
			return vmk_set_error(err, VMK_ERR_FS_DEVICE, "name",
					     "name: \"%s\" is already shared (%s)", name, d->dirs[i].path);
	if (d->ndirs == VMK_FS_MAX_DIRECTORIES)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "directories", "directories: at most %d",
				     VMK_FS_MAX_DIRECTORIES);
	char *n = strdup(name), *p = strdup(path);
	if (!n || !p) {
		free(n);
		free(p);
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "directory", "out of memory");
	}
	d->multiple = true;
	d->dirs[d->ndirs++] = (struct fs_directory){.name = n, .path = p, .read_only = read_only};
	return true;
}

struct vmk_fs_device *vmk_fs_device_copy(const struct vmk_fs_device *d)
{
	vmk_fs_device *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	memcpy(c->tag, d->tag, sizeof(c->tag));
	c->multiple = d->multiple;
	for (size_t i = 0; i < d->ndirs; i++) {
		c->dirs[i] = d->dirs[i];
		c->dirs[i].path = strdup(d->dirs[i].path);
		c->dirs[i].name = d->dirs[i].name ? strdup(d->dirs[i].name) : NULL;
		c->ndirs++;
		if (!c->dirs[i].path || (d->dirs[i].name && !c->dirs[i].name)) {
			vmk_fs_device_free(c);
			return NULL;
		}
	}
	return c;
}

bool vmk_config_add_fs_device(vmk_config *cfg, const vmk_fs_device *d, vmk_error **err)
{
	if (!cfg || !d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "fs_device",
				     "configuration or fs device is NULL");
	if (cfg->fs_count == VMK_MAX_FS_DEVICES)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "fs_devices", "fs_devices: at most %d",
				     VMK_MAX_FS_DEVICES);
	for (size_t i = 0; i < cfg->fs_count; i++)
		if (!strcmp(cfg->fs[i]->tag, d->tag))
			return vmk_set_error(err, VMK_ERR_FS_DEVICE, "tag",
					     "fs_devices[%zu].tag: \"%s\" is already used by fs_devices[%zu]",
					     cfg->fs_count, d->tag, i);
	if (!(cfg->fs[cfg->fs_count] = vmk_fs_device_copy(d)))
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "fs_device", "out of memory");
	cfg->fs_count++;
	return true;
}

size_t vmk_config_get_fs_device_count(const vmk_config *cfg)
{
	return cfg ? cfg->fs_count : 0;
}

void fs_validate(const vmk_config *cfg, vmk_error **err)
{
	for (size_t i = 0; i < cfg->fs_count; i++) {
		const struct vmk_fs_device *d = cfg->fs[i];
		char field[96];

		if (!d->ndirs) {
			snprintf(field, sizeof(field), "fs_devices[%zu].directory", i);
			vmk_set_error(err, VMK_ERR_FS_DEVICE, field, "%s: tag \"%s\" shares no directory",
				      field, d->tag);
			continue;
		}
		for (size_t j = 0; j < d->ndirs; j++) {
			const char *path = d->dirs[j].path;
			struct stat st;

			if (d->multiple)
				snprintf(field, sizeof(field), "fs_devices[%zu].directories[%zu]", i, j);
			else
				snprintf(field, sizeof(field), "fs_devices[%zu].directory", i);
			int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				vmk_set_errno(err, VMK_ERR_FS_DEVICE, field, errno, "%s: cannot open %s",
					      field, path);
				continue;
			}
			if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))
				vmk_set_error(err, VMK_ERR_FS_DEVICE, field, "%s: %s is not a directory",
					      field, path);
			close(fd);
		}
	}
}
