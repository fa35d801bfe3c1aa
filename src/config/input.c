/* Keyboard and pointing device configuration (Apple:
 * VZUSBKeyboardConfiguration, VZUSBScreenCoordinatePointingDeviceConfiguration). */
#include "config/config_priv.h"
#include "util/error_priv.h"
#include <stdlib.h>

vmk_input_device *vmk_input_device_new(vmk_input_kind kind, vmk_error **err)
{
	if (kind != VMK_INPUT_KEYBOARD && kind != VMK_INPUT_SCREEN_POINTER && kind != VMK_INPUT_MOUSE) {
		vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "kind", "kind: %d is not an input device kind",
			      (int)kind);
		return NULL;
	}
	vmk_input_device *d = calloc(1, sizeof(*d));
	if (!d) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "input_device", "out of memory");
		return NULL;
	}
	*d = (vmk_input_device){.kind = kind, .width = 800, .height = 600};
	return d;
}

void vmk_input_device_free(vmk_input_device *d)
{
	free(d);
}

vmk_input_kind vmk_input_device_get_kind(const vmk_input_device *d)
{
	return d ? d->kind : 0;
}

bool vmk_input_device_set_screen_size(vmk_input_device *d, uint32_t width, uint32_t height, vmk_error **err)
{
	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "input_device", "input device is NULL");
	if (width < 64 || width > 8192)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "width",
				     "width: %u is outside 64 to 8192", width);
	if (height < 64 || height > 8192)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "height",
				     "height: %u is outside 64 to 8192", height);
	d->width = width;
	d->height = height;
	return true;
}

bool vmk_config_add_input_device(vmk_config *cfg, const vmk_input_device *d, vmk_error **err)
{
	if (!cfg || !d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "input_device",
				     "configuration or input device is NULL");
	if (cfg->input_count == VMK_MAX_INPUT_DEVICES)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "input_devices",
				     "input_devices: at most %d", VMK_MAX_INPUT_DEVICES);
	cfg->input[cfg->input_count++] = *d;
	return true;
}

size_t vmk_config_get_input_device_count(const vmk_config *cfg)
{
	return cfg ? cfg->input_count : 0;
}
