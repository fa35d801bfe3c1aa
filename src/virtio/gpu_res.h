/* The virtio-gpu 2D engine: the guest's resources (host images with a
 * backing list in guest RAM), the scanouts showing them and the cursor.
 * Executes parsed requests (gpu_proto.h); knows nothing of queues, so the
 * fuzzer drives it directly. Not thread-safe: the device holds its lock. */
#ifndef VMK_GPU_RES_H
#define VMK_GPU_RES_H

#include "core/memory.h"
#include "virtio/gpu_proto.h"
#include <stdbool.h>
#include <stdint.h>

#define GPU_RES_BUCKETS	  256
#define GPU_MAX_RESOURCES 4096
/* Each side of a resource; beyond the largest scanout, as guests allocate
 * framebuffers a bit larger than the mode. */
#define GPU_RES_MAX_SIDE 16384
#define GPU_CURSOR_SIDE	 64

struct gpu_resource;

struct gpu_scanout {
	uint32_t width, height; /* what the host offers (display info, EDID) */
	uint32_t resource_id;	/* shown resource; 0: disabled */
	struct gpu_rect r;	/* the part of it shown */
	uint64_t serial;	/* changes with every update */
};

struct gpu_cursor {
	bool visible;
	uint64_t serial;
	uint32_t scanout;
	int32_t x, y;
	uint32_t hot_x, hot_y;
	uint32_t argb[GPU_CURSOR_SIDE * GPU_CURSOR_SIDE];
};

struct gpu_state {
	const struct gmem *mem;
	uint64_t limit, used; /* host bytes the resources may take, and take */
	unsigned nresources;
	struct gpu_resource *bucket[GPU_RES_BUCKETS];
	unsigned nscanouts;
	struct gpu_scanout scanout[GPU_MAX_SCANOUTS];
	struct gpu_cursor cursor;
	uint64_t serial;
	/* What requests changed since the device last looked (it tells the host). */
	bool damaged[GPU_MAX_SCANOUTS];
	struct gpu_rect damage[GPU_MAX_SCANOUTS];
	bool cursor_changed;
	bool edid; /* VIRTIO_GPU_F_EDID negotiated */
	uint32_t edid_serial;
};

/* The response buffer gpu_exec writes: its largest answer. */
#define GPU_RESP_MAX sizeof(struct gpu_resp_edid)

void gpu_state_init(struct gpu_state *s, const struct gmem *mem, uint64_t limit, unsigned nscanouts,
		    const uint32_t *width, const uint32_t *height);
/* Frees every resource and turns every scanout off (a driver reset). */
void gpu_state_reset(struct gpu_state *s);
/* Runs c (entries: its backing list, from gpu_cmd_parse); writes the
 * response to resp and returns its length. */
size_t gpu_exec(struct gpu_state *s, const struct gpu_cmd *c, const struct gpu_mem_entry *entries,
		void *resp);
/* Scanout i's current picture: its size, and with out (w * h * 4 bytes)
 * the pixels as XRGB8888. false when the scanout shows nothing. */
bool gpu_scanout_size(struct gpu_state *s, unsigned i, uint32_t *w, uint32_t *h);
void gpu_scanout_copy(struct gpu_state *s, unsigned i, uint8_t *out);
/* Columns x0..x1, rows y0..y1 (end exclusive, inside the scanout's size) of scanout i into
 * out, which holds the whole scanout with `stride` bytes a row. */
void gpu_scanout_copy_rect(struct gpu_state *s, unsigned i, uint8_t *out, uint64_t stride, uint32_t x0,
			   uint32_t y0, uint32_t x1, uint32_t y1);
/* Marks r (scanout pixels) of scanout i as changed. */
void gpu_damage(struct gpu_state *s, unsigned i, struct gpu_rect r);

#endif
