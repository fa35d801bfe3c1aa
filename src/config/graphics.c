/* Graphics device configuration (Apple: VZVirtioGraphicsDeviceConfiguration,
 * VZVirtioGraphicsScanoutConfiguration). */
#include "config/config_priv.h"
#include "util/error_priv.h"
#include <stdio.h>
#include <stdlib.h>

vmk_graphics_device *vmk_graphics_device_new(void)
{
	vmk_graphics_device *d = calloc(1, sizeof(*d));
	if (d) {
		d->memory_limit = VMK_GRAPHICS_MEMORY_DEFAULT;
		d->vga = true;
	}
	return d;
}

void vmk_graphics_device_set_vga_compatible(vmk_graphics_device *d, bool on)
{
	if (d)
		d->vga = on;
}

void vmk_graphics_device_free(vmk_graphics_device *d)
{
	free(d);
}

static bool check_size(uint32_t width, uint32_t height, const char *field, vmk_error **err)
{
	if (width < VMK_SCANOUT_MIN || width > VMK_SCANOUT_MAX)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s.width: %u is outside %d to %d",
				     field, width, VMK_SCANOUT_MIN, VMK_SCANOUT_MAX);
	if (height < VMK_SCANOUT_MIN || height > VMK_SCANOUT_MAX)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field,
				     "%s.height: %u is outside %d to %d", field, height, VMK_SCANOUT_MIN,
				     VMK_SCANOUT_MAX);
	return true;
}

bool graphics_check_size(uint32_t width, uint32_t height, const char *field, vmk_error **err)
{
	return check_size(width, height, field, err);
}

bool vmk_graphics_device_add_scanout(vmk_graphics_device *d, uint32_t width, uint32_t height, vmk_error **err)
{
	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "graphics_device",
				     "graphics device is NULL");
	if (d->nscanouts == VMK_MAX_SCANOUTS)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "scanouts", "scanouts: at most %d",
				     VMK_MAX_SCANOUTS);
	char field[32];
	snprintf(field, sizeof(field), "scanouts[%zu]", d->nscanouts);
	if (!check_size(width, height, field, err))
		return false;
	d->width[d->nscanouts] = width;
	d->height[d->nscanouts] = height;
	d->nscanouts++;
	return true;
}

size_t vmk_graphics_device_get_scanout_count(const vmk_graphics_device *d)
{
	return d ? d->nscanouts : 0;
}

bool vmk_graphics_device_set_memory_limit(vmk_graphics_device *d, uint64_t bytes, vmk_error **err)
{
	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "graphics_device",
				     "graphics device is NULL");
	if (bytes < VMK_GRAPHICS_MEMORY_MIN || bytes > VMK_GRAPHICS_MEMORY_MAX)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "memory_limit",
				     "memory_limit: %llu bytes is outside 16 MiB to 4 GiB",
				     (unsigned long long)bytes);
	d->memory_limit = bytes;
	return true;
}

bool vmk_config_add_graphics_device(vmk_config *cfg, const vmk_graphics_device *d, vmk_error **err)
{
	if (!cfg || !d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "graphics_device",
				     "configuration or graphics device is NULL");
	if (cfg->graphics_count == VMK_MAX_GRAPHICS_DEVICES)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "graphics_devices",
				     "graphics_devices: at most %d", VMK_MAX_GRAPHICS_DEVICES);
	cfg->graphics[cfg->graphics_count++] = *d;
	return true;
}

size_t vmk_config_get_graphics_device_count(const vmk_config *cfg)
{
	return cfg ? cfg->graphics_count : 0;
}

void graphics_validate(const vmk_config *cfg, vmk_error **err)
{
	for (size_t i = 0; i < cfg->graphics_count; i++)
		if (!cfg->graphics[i].nscanouts)
			vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "graphics_devices",
				      "graphics_devices[%zu].scanouts: a graphics device needs a scanout", i);
}
