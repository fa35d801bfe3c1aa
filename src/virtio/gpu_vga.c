/* Bochs VBE display interface over MMIO, as QEMU's stdvga and virtio-vga
 * expose it (BAR 2: VGA ports 0x3c0-0x3df at 0x400, the dispi registers,
 * 16 bits each, at 0x500, QEMU's extension registers at 0x600; the EDID
 * at 0, where OVMF's QemuVideoDxe finds its preferred mode). Every value
 * the guest writes is only stored; whether it describes a picture inside
 * vram is decided when one is shown. */
#include "virtio/gpu_vga.h"
#include <string.h>
#include <sys/mman.h>

enum {
	DISPI_ID,
	DISPI_XRES,
	DISPI_YRES,
	DISPI_BPP,
	DISPI_ENABLE,
	DISPI_BANK,
	DISPI_VIRT_WIDTH,
	DISPI_VIRT_HEIGHT,
	DISPI_X_OFFSET,
	DISPI_Y_OFFSET,
	DISPI_VIDEO_MEMORY_64K,
};

#define DISPI_ID5	 0xb0c5
#define DISPI_ENABLED	 0x01
#define DISPI_GETCAPS	 0x02
#define DISPI_LFB	 0x40
#define DISPI_NOCLEARMEM 0x80
#define DISPI_MAX_XRES	 16000
#define DISPI_MAX_YRES	 12000

#define OFF_PORTS 0x400
#define OFF_DISPI 0x500
#define OFF_QEXT  0x600

bool gpu_vga_init(struct gpu_vga *v, uint64_t vram_size)
{
	memset(v, 0, sizeof(*v));
	void *p =
	    mmap(NULL, vram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	v->vram = p;
	v->vram_size = vram_size;
	v->dispi[DISPI_ID] = DISPI_ID5;
	v->dispi[DISPI_BPP] = 32;
	return true;
}

void gpu_vga_free(struct gpu_vga *v)
{
	if (v->vram)
		munmap(v->vram, v->vram_size);
	v->vram = NULL;
}

static uint16_t dispi_read(const struct gpu_vga *v, unsigned i)
{
	if (i == DISPI_VIDEO_MEMORY_64K)
		return (uint16_t)(v->vram_size >> 16 > 0xffff ? 0xffff : v->vram_size >> 16);
	if (v->dispi[DISPI_ENABLE] & DISPI_GETCAPS) {
		/* With GETCAPS set, the limits instead of the values. */
		if (i == DISPI_XRES)
			return DISPI_MAX_XRES;
		if (i == DISPI_YRES)
			return DISPI_MAX_YRES;
		if (i == DISPI_BPP)
			return 32;
	}
	return v->dispi[i];
}

static void dispi_write(struct gpu_vga *v, unsigned i, uint16_t val)
{
	switch (i) {
	case DISPI_ID:
		if ((val & 0xfff0) == 0xb0c0 && val <= DISPI_ID5)
			v->dispi[i] = val;
		return;
	case DISPI_VIDEO_MEMORY_64K:
		return;
	case DISPI_ENABLE:
		if ((val & DISPI_ENABLED) && !(v->dispi[DISPI_ENABLE] & DISPI_ENABLED)) {
			/* A new mode: the whole width, from the start of vram. */
			v->dispi[DISPI_VIRT_WIDTH] = v->dispi[DISPI_XRES];
			uint64_t stride = (uint64_t)v->dispi[DISPI_XRES] * ((v->dispi[DISPI_BPP] + 7) / 8);
			uint64_t vh = stride ? v->vram_size / stride : 0;
			v->dispi[DISPI_VIRT_HEIGHT] = (uint16_t)(vh > 0xffff ? 0xffff : vh);
			v->dispi[DISPI_X_OFFSET] = v->dispi[DISPI_Y_OFFSET] = 0;
			if (!(val & DISPI_NOCLEARMEM)) {
				uint64_t n = stride * v->dispi[DISPI_YRES];
				memset(v->vram, 0, n < v->vram_size ? n : v->vram_size);
			}
		}
		v->dispi[i] = val;
		break;
	default:
		v->dispi[i] = val;
		break;
	}
	v->changed = true;
}

void gpu_vga_read(struct gpu_vga *v, uint64_t off, uint8_t *data, unsigned size)
{
	uint32_t val = 0;

	if (off < sizeof(v->edid) && size <= sizeof(v->edid) - off) {
		memcpy(data, v->edid + off, size);
		return;
	}
	if (off >= OFF_PORTS && off < OFF_PORTS + sizeof(v->ports) && size == 1) {
		/* 0x3da (input status 1) reads as "not in retrace", which also
		 * resets the attribute flip-flop on real cards. */
		val = off - OFF_PORTS == 0x1a ? 0 : v->ports[off - OFF_PORTS];
	} else if (off >= OFF_DISPI && off < OFF_DISPI + 2 * VGA_DISPI_REGS && size == 2 && !(off & 1)) {
		val = dispi_read(v, (unsigned)(off - OFF_DISPI) / 2);
	} else if (off == OFF_QEXT && size == 4) {
		val = 8; /* the extension block's size */
	} else if (off == OFF_QEXT + 4 && size == 4) {
		val = 0x1e1e1e1e; /* framebuffer little-endian */
	}
	for (unsigned i = 0; i < size && i < 4; i++)
		data[i] = (uint8_t)(val >> (8 * i));
}

void gpu_vga_write(struct gpu_vga *v, uint64_t off, const uint8_t *data, unsigned size)
{
	if (off >= OFF_PORTS && off < OFF_PORTS + sizeof(v->ports)) {
		for (unsigned i = 0; i < size && off - OFF_PORTS + i < sizeof(v->ports); i++)
			v->ports[off - OFF_PORTS + i] = data[i];
	} else if (off >= OFF_DISPI && off < OFF_DISPI + 2 * VGA_DISPI_REGS && size == 2 && !(off & 1)) {
		dispi_write(v, (unsigned)(off - OFF_DISPI) / 2, (uint16_t)(data[0] | data[1] << 8));
	}
}

bool gpu_vga_mode(const struct gpu_vga *v, uint32_t *w, uint32_t *h)
{
	const uint16_t *d = v->dispi;
	*w = d[DISPI_XRES];
	*h = d[DISPI_YRES];
	if ((d[DISPI_ENABLE] & (DISPI_ENABLED | DISPI_LFB)) != (DISPI_ENABLED | DISPI_LFB) ||
	    d[DISPI_BPP] != 32 || !*w || !*h || d[DISPI_VIRT_WIDTH] < *w)
		return false;
	uint64_t first, end, stride;
	gpu_vga_span(v, &first, &end, &stride);
	return end <= v->vram_size;
}

void gpu_vga_span(const struct gpu_vga *v, uint64_t *first, uint64_t *end, uint64_t *stride)
{
	const uint16_t *d = v->dispi;
	*stride = (uint64_t)d[DISPI_VIRT_WIDTH] * 4;
	*first = *stride * d[DISPI_Y_OFFSET] + (uint64_t)d[DISPI_X_OFFSET] * 4;
	*end = *first + *stride * (d[DISPI_YRES] ? d[DISPI_YRES] - 1 : 0) + (uint64_t)d[DISPI_XRES] * 4;
}

void gpu_vga_copy_rect(const struct gpu_vga *v, uint8_t *out, uint64_t out_stride, uint32_t x0, uint32_t y0,
		       uint32_t x1, uint32_t y1)
{
	uint64_t first, end, stride;
	gpu_vga_span(v, &first, &end, &stride);
	for (uint32_t y = y0; y < y1; y++)
		memcpy(out + out_stride * y + (uint64_t)x0 * 4,
		       v->vram + first + stride * y + (uint64_t)x0 * 4, (size_t)(x1 - x0) * 4);
}

void gpu_vga_copy(const struct gpu_vga *v, uint8_t *out)
{
	uint64_t first, end, stride;
	uint32_t w = v->dispi[DISPI_XRES], h = v->dispi[DISPI_YRES];
	gpu_vga_span(v, &first, &end, &stride);
	/* 32 bpp in vram is B, G, R, X: already XRGB8888. */
	for (uint32_t y = 0; y < h; y++)
		memcpy(out + (uint64_t)w * 4 * y, v->vram + first + stride * y, (size_t)w * 4);
}
