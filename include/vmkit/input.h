/* Keyboards and pointing devices (Apple: VZUSBKeyboardConfiguration,
 * VZUSBScreenCoordinatePointingDeviceConfiguration; vfkit's
 * `virtio-input,keyboard|pointing`). The guest sees virtio-input devices
 * (Linux: virtio_input, one /dev/input/event* each).
 *
 * Events are injected into a running VM. Key codes are Linux evdev codes
 * (<linux/input-event-codes.h>: KEY_A is 30, KEY_ENTER 28 ...), whatever
 * the guest's keyboard layout. A screen-coordinate pointer takes positions in
 * pixels of its screen (0,0 top left); a mouse takes relative motion. Each
 * call is one report (the guest sees it followed by SYN_REPORT). A device
 * holds at most 2048 events the guest has not taken yet; beyond that the
 * call fails with VMK_ERR_LIMIT_EXCEEDED and nothing of it is delivered. */
#ifndef VMKIT_INPUT_H
#define VMKIT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/config.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vmk_input_kind {
	VMK_INPUT_KEYBOARD = 1,
	VMK_INPUT_SCREEN_POINTER = 2, /* absolute: x/y in screen pixels, buttons, wheel */
	VMK_INPUT_MOUSE = 3,	      /* relative motion, buttons, wheel */
} vmk_input_kind;

typedef enum vmk_input_button {
	VMK_BUTTON_LEFT = 0,
	VMK_BUTTON_RIGHT = 1,
	VMK_BUTTON_MIDDLE = 2,
	VMK_BUTTON_SIDE = 3,
	VMK_BUTTON_EXTRA = 4,
} vmk_input_button;

#define VMK_MAX_INPUT_DEVICES 8

typedef struct vmk_input_device vmk_input_device;

vmk_input_device *vmk_input_device_new(vmk_input_kind kind, vmk_error **err);
void vmk_input_device_free(vmk_input_device *dev);
vmk_input_kind vmk_input_device_get_kind(const vmk_input_device *dev);
/* A screen pointer's screen, 64x64 to 8192x8192 (default 800x600, vfkit's
 * default display). */
bool vmk_input_device_set_screen_size(vmk_input_device *dev, uint32_t width, uint32_t height,
				      vmk_error **err);

bool vmk_config_add_input_device(vmk_config *cfg, const vmk_input_device *dev, vmk_error **err);
size_t vmk_config_get_input_device_count(const vmk_config *cfg);

/* Run time (a running or paused VM); each goes to every device it concerns
 * and fails with VMK_ERR_NOT_SUPPORTED when the VM has none. */
typedef struct vmk_vm vmk_vm;
/* A key of every keyboard: code 1 (KEY_ESC) to 248 (KEY_MICMUTE). */
bool vmk_vm_input_key(vmk_vm *vm, uint16_t code, bool pressed, vmk_error **err);
/* Every screen pointer to (x, y), clamped to its screen. */
bool vmk_vm_input_pointer_position(vmk_vm *vm, int32_t x, int32_t y, vmk_error **err);
/* Every mouse moves by (dx, dy). */
bool vmk_vm_input_pointer_motion(vmk_vm *vm, int32_t dx, int32_t dy, vmk_error **err);
/* A button, and the wheel (clicks, up positive), of every pointing device. */
bool vmk_vm_input_button(vmk_vm *vm, vmk_input_button button, bool pressed, vmk_error **err);
bool vmk_vm_input_wheel(vmk_vm *vm, int32_t clicks, vmk_error **err);
/* Types printable ASCII, newline, tab, backspace and escape as key presses
 * on a US layout (the guest's own layout decides what it reads); at most
 * VMK_INPUT_TEXT_MAX characters a call (one call fits the device's queue). */
#define VMK_INPUT_TEXT_MAX 60
bool vmk_vm_input_type_text(vmk_vm *vm, const char *text, vmk_error **err);

#ifdef __cplusplus
}
#endif
#endif
