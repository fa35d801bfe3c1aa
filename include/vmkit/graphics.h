/* Graphics (Apple: VZVirtioGraphicsDeviceConfiguration with its scanouts;
 * VZGraphicsDisplay.reconfigure; vfkit's `virtio-gpu,width=,height=`).
 * The guest sees a virtio-gpu device (2D): OVMF's VirtioGpuDxe gives the
 * firmware, boot loaders and efifb a real graphics output protocol on it, and
 * Linux's virtio_gpu driver a DRM device.
 *
 * The host sees each scanout as frames: copies of what the guest shows,
 * taken at any time from any thread, as 32-bit pixels (XRGB8888: bytes B, G,
 * R, unused, in memory). A view (VNC, a window, a browser) polls frames and
 * redraws when the frame's serial number changed. */
#ifndef VMKIT_GRAPHICS_H
#define VMKIT_GRAPHICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/config.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMK_MAX_GRAPHICS_DEVICES 4
#define VMK_MAX_SCANOUTS	 16
#define VMK_SCANOUT_MIN		 64
#define VMK_SCANOUT_MAX		 8192
/* Host memory the guest's resources may take, per device. */
#define VMK_GRAPHICS_MEMORY_DEFAULT (256ull << 20)
#define VMK_GRAPHICS_MEMORY_MIN	    (16ull << 20)
#define VMK_GRAPHICS_MEMORY_MAX	    (4ull << 30)

typedef struct vmk_graphics_device vmk_graphics_device;

/* A device without scanouts; validation requires at least one. */
vmk_graphics_device *vmk_graphics_device_new(void);
void vmk_graphics_device_free(vmk_graphics_device *dev);
/* Adds a scanout (a display) of width x height pixels, each 64 to 8192: the
 * guest's preferred mode (EDID) and the size it is told at first. */
bool vmk_graphics_device_add_scanout(vmk_graphics_device *dev, uint32_t width, uint32_t height,
				     vmk_error **err);
size_t vmk_graphics_device_get_scanout_count(const vmk_graphics_device *dev);
/* The cap on host memory for the guest's resources (images and their
 * backing lists), 16 MiB to 4 GiB; default 256 MiB. Beyond it the guest's
 * request fails with OUT_OF_MEMORY. */
bool vmk_graphics_device_set_memory_limit(vmk_graphics_device *dev, uint64_t bytes, vmk_error **err);

/* VGA compatibility (default on; honoured for the first graphics device):
 * the device is also a Bochs-style VGA with a linear framebuffer in BAR 0
 * (QEMU's virtio-vga), so UEFI firmware gives a GOP with a framebuffer:
 * what GRUB's gfxterm, Linux's efifb and Windows need. Scanout 0 shows that
 * framebuffer until the guest's virtio driver shows something there. Off:
 * a plain virtio-gpu device (OVMF's VirtioGpuDxe: a Blt-only GOP). */
void vmk_graphics_device_set_vga_compatible(vmk_graphics_device *dev, bool on);

bool vmk_config_add_graphics_device(vmk_config *cfg, const vmk_graphics_device *dev, vmk_error **err);
size_t vmk_config_get_graphics_device_count(const vmk_config *cfg);

/* --- run time (a running or paused VM) --- */
typedef struct vmk_vm vmk_vm;

typedef struct vmk_frame {
	uint32_t width, height; /* what the guest shows now (its mode), in pixels */
	uint32_t stride;	/* bytes per row: width * 4 */
	uint8_t *pixels;	/* XRGB8888 */
	/* Changes whenever the guest flushed, set or resized the scanout;
	 * the same number means the same picture. */
	uint64_t serial;
	/* false: the guest shows nothing on it yet (or turned it off); the
	 * frame is black, of the scanout's configured size. */
	bool active;
	/* The guest's pointer image, when it set one (64x64 at most). */
	bool cursor_visible;
	int32_t cursor_x, cursor_y; /* its hot spot, in scanout pixels */
	uint32_t cursor_hot_x, cursor_hot_y;
} vmk_frame;

/* A copy of what scanout `scanout` of graphics device `device` shows. Free
 * with vmk_frame_free. */
bool vmk_vm_copy_frame(vmk_vm *vm, unsigned device, unsigned scanout, vmk_frame **frame, vmk_error **err);
void vmk_frame_free(vmk_frame *frame);
typedef struct vmk_rect vmk_rect;
/* The same into the caller's memory, only the part `rect` (NULL: all), for
 * views that keep their own picture and copy what changed on every update.
 * On entry into->pixels holds a picture of into->width x into->height
 * (XRGB8888, into->stride bytes a row). When the scanout shows that size,
 * rect (clipped to it) is copied to the same place in into->pixels; when it
 * does not, nothing is. Either way width, height, serial, active and the
 * cursor fields become the scanout's (stride and pixels stay): a new size
 * tells the caller to resize its picture and copy again. */
bool vmk_vm_copy_frame_rect(vmk_vm *vm, unsigned device, unsigned scanout, const vmk_rect *rect,
			    vmk_frame *into, vmk_error **err);
/* Writes the frame as a PNG file (replaced whole: written aside, renamed). */
bool vmk_frame_save_png(const vmk_frame *frame, const char *path, vmk_error **err);
/* The frame as PNG bytes in memory (free() them). */
bool vmk_frame_to_png(const vmk_frame *frame, uint8_t **png, size_t *len, vmk_error **err);
/* Both at once. */
bool vmk_vm_save_screenshot(vmk_vm *vm, unsigned device, unsigned scanout, const char *path, vmk_error **err);
struct vmk_rect {
	uint32_t x, y, width, height;
};

/* What changed on a display. damage: the rectangle the guest updated, in
 * scanout pixels (after a mode change or a reconfigure, the whole new size);
 * NULL when only the cursor changed (image, position or visibility). Runs on
 * a thread of the VM (its I/O thread, or its event thread for a
 * reconfigure): take what it needs and hand the work over. It must not call
 * vmk_vm_* functions, which wait for those threads. */
typedef void (*vmk_display_callback)(vmk_vm *vm, unsigned device, unsigned scanout, const vmk_rect *damage,
				     void *ctx);
/* Replaces the callback (NULL removes it). Once it returns, the old
 * callback is not running and will not run again. Not from the callback. */
void vmk_vm_set_display_callback(vmk_vm *vm, vmk_display_callback fn, void *ctx);

/* The guest's pointer image (virtio-gpu's cursor queue). */
typedef struct vmk_cursor {
	bool visible;
	unsigned scanout;
	int32_t x, y;		/* where its hot spot is, in scanout pixels */
	uint32_t hot_x, hot_y;	/* the hot spot within the image */
	uint32_t width, height; /* 64 x 64 */
	uint32_t *argb;		/* width * height pixels, 0xAARRGGBB */
	uint64_t serial;	/* changes with every update or move */
} vmk_cursor;
bool vmk_vm_copy_cursor(vmk_vm *vm, unsigned device, vmk_cursor **cursor, vmk_error **err);
void vmk_cursor_free(vmk_cursor *cursor);

/* Resizes a scanout (64 to 8192 each way): the guest gets a display event
 * and a new EDID whose preferred mode is the new size, and its driver
 * (Linux's virtio_gpu) switches to it. The firmware ignores it. */
bool vmk_vm_reconfigure_display(vmk_vm *vm, unsigned device, unsigned scanout, uint32_t width,
				uint32_t height, vmk_error **err);

#ifdef __cplusplus
}
#endif
#endif
