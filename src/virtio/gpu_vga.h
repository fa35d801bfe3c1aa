/* The VGA side of a VGA-compatible virtio-gpu (QEMU's virtio-vga, which
 * OVMF's QemuVideoDxe drives): vram in BAR 0 and the Bochs display
 * interface (VBE "dispi") registers in BAR 2, so firmware gets a GOP with a
 * linear framebuffer, which GRUB's gfxterm, Linux's efifb and Windows need.
 * Not thread-safe: the device holds its lock. */
#ifndef VMK_GPU_VGA_H
#define VMK_GPU_VGA_H

#include <stdbool.h>
#include <stdint.h>

#define VGA_DISPI_REGS 11

struct gpu_vga {
	uint8_t *vram;
	uint64_t vram_size;
	uint16_t dispi[VGA_DISPI_REGS];
	uint8_t ports[0x20]; /* 0x3c0-0x3df as last written; nothing acts on them */
	uint8_t edid[256];   /* scanout 0's, at the start of BAR 2 (firmware reads it there) */
	bool changed;	     /* the mode changed since the device last looked */
};

/* vram_size: a power of two, at least 1 MiB. Returns false without memory. */
bool gpu_vga_init(struct gpu_vga *v, uint64_t vram_size);
void gpu_vga_free(struct gpu_vga *v);
/* BAR 2 accesses (off inside its 4 KiB). */
void gpu_vga_read(struct gpu_vga *v, uint64_t off, uint8_t *data, unsigned size);
void gpu_vga_write(struct gpu_vga *v, uint64_t off, const uint8_t *data, unsigned size);
/* The picture the dispi registers describe: its size, and with out
 * (w * h * 4 bytes) its pixels as XRGB8888. false when none (disabled, a
 * depth other than 32 bits, or beyond vram). */
bool gpu_vga_mode(const struct gpu_vga *v, uint32_t *w, uint32_t *h);
void gpu_vga_copy(const struct gpu_vga *v, uint8_t *out);
/* Columns x0..x1, rows y0..y1 (end exclusive, inside the mode) into out (the whole picture,
 * `stride` bytes a row). */
void gpu_vga_copy_rect(const struct gpu_vga *v, uint8_t *out, uint64_t stride, uint32_t x0, uint32_t y0,
		       uint32_t x1, uint32_t y1);
/* Where a mode's first and last visible byte lie in vram. */
void gpu_vga_span(const struct gpu_vga *v, uint64_t *first, uint64_t *end, uint64_t *stride);

#endif
