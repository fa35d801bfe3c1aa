/* The virtio-gpu request parser: one control or cursor queue buffer into a
 * typed request (gpu_proto.h), every length checked, before anything acts
 * on it. Fuzzed (tests/fuzz/fuzz_gpu.c). */
#include "core/iov.h"
#include "virtio/gpu_proto.h"
#include <endian.h>
#include <string.h>

/* The command's body after the header, by type; 0: no body; -1: unknown. */
static long body_len(uint32_t type)
{
	switch (type) {
	case GPU_CMD_GET_DISPLAY_INFO:
		return 0;
	case GPU_CMD_RESOURCE_CREATE_2D:
		return 16; /* resource_id, format, width, height */
	case GPU_CMD_RESOURCE_UNREF:
	case GPU_CMD_RESOURCE_DETACH_BACKING:
	case GPU_CMD_GET_EDID:
		return 8; /* an id and padding */
	case GPU_CMD_SET_SCANOUT:
	case GPU_CMD_RESOURCE_FLUSH:
		return 24; /* rect, then two ids */
	case GPU_CMD_TRANSFER_TO_HOST_2D:
		return 32; /* rect, offset, resource_id, padding */
	case GPU_CMD_RESOURCE_ATTACH_BACKING:
		return 8; /* resource_id, nr_entries; the entries follow */
	case GPU_CMD_GET_CAPSET_INFO:
		return 8;
	case GPU_CMD_GET_CAPSET:
		return 8;
	case GPU_CMD_UPDATE_CURSOR:
	case GPU_CMD_MOVE_CURSOR:
		return 32; /* cursor_pos (scanout, x, y, padding), resource_id, hot_x, hot_y, padding */
	}
	return -1;
}

static uint32_t le32_at(const uint8_t *b, size_t off)
{
	uint32_t v;
	memcpy(&v, b + off, 4);
	return le32toh(v);
}

static struct gpu_rect rect_at(const uint8_t *b)
{
	return (struct gpu_rect){le32_at(b, 0), le32_at(b, 4), le32_at(b, 8), le32_at(b, 12)};
}

enum gpu_parse gpu_cmd_parse(const struct iovec *iov, unsigned n, struct gpu_cmd *c,
			     struct gpu_mem_entry *entries, uint32_t max)
{
	struct gpu_ctrl_hdr h;
	uint8_t b[32];

	memset(c, 0, sizeof(*c));
	if (iov_copy_from(iov, n, 0, &h, sizeof(h)) != sizeof(h))
		return GPU_PARSE_SHORT;
	c->type = le32toh(h.type);
	c->flags = le32toh(h.flags);
	c->fence_id = le64toh(h.fence_id);
	c->ctx_id = le32toh(h.ctx_id);
	c->ring_idx = h.ring_idx;
	long len = body_len(c->type);
	if (len < 0)
		return GPU_PARSE_UNKNOWN;
	if (iov_copy_from(iov, n, sizeof(h), b, (size_t)len) != (size_t)len)
		return GPU_PARSE_SHORT;

	switch (c->type) {
	case GPU_CMD_RESOURCE_CREATE_2D:
		c->resource_id = le32_at(b, 0);
		c->format = le32_at(b, 4);
		c->width = le32_at(b, 8);
		c->height = le32_at(b, 12);
		break;
	case GPU_CMD_RESOURCE_UNREF:
	case GPU_CMD_RESOURCE_DETACH_BACKING:
		c->resource_id = le32_at(b, 0);
		break;
	case GPU_CMD_GET_EDID:
		c->scanout_id = le32_at(b, 0);
		break;
	case GPU_CMD_SET_SCANOUT:
		c->r = rect_at(b);
		c->scanout_id = le32_at(b, 16);
		c->resource_id = le32_at(b, 20);
		break;
	case GPU_CMD_RESOURCE_FLUSH:
		c->r = rect_at(b);
		c->resource_id = le32_at(b, 16);
		break;
	case GPU_CMD_TRANSFER_TO_HOST_2D: {
		uint64_t off;
		c->r = rect_at(b);
		memcpy(&off, b + 16, 8);
		c->offset = le64toh(off);
		c->resource_id = le32_at(b, 24);
		break;
	}
	case GPU_CMD_RESOURCE_ATTACH_BACKING: {
		c->resource_id = le32_at(b, 0);
		c->nr_entries = le32_at(b, 4);
		if (c->nr_entries > max)
			return GPU_PARSE_TOO_MANY;
		size_t bytes = (size_t)c->nr_entries * sizeof(struct gpu_mem_entry);
		if (iov_copy_from(iov, n, sizeof(h) + 8, entries, bytes) != bytes)
			return GPU_PARSE_SHORT;
		for (uint32_t i = 0; i < c->nr_entries; i++) {
			entries[i].addr = le64toh(entries[i].addr);
			entries[i].length = le32toh(entries[i].length);
		}
		break;
	}
	case GPU_CMD_UPDATE_CURSOR:
	case GPU_CMD_MOVE_CURSOR:
		c->scanout_id = le32_at(b, 0);
		c->x = (int32_t)le32_at(b, 4);
		c->y = (int32_t)le32_at(b, 8);
		c->resource_id = le32_at(b, 16);
		c->hot_x = le32_at(b, 20);
		c->hot_y = le32_at(b, 24);
		break;
	default: /* DISPLAY_INFO, CAPSET: nothing the device reads */
		break;
	}
	return GPU_PARSE_OK;
}

void gpu_resp_hdr(const struct gpu_cmd *c, uint32_t type, struct gpu_ctrl_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->type = htole32(type);
	/* Requests run to completion in order, so answering is signalling. */
	if (c->flags & GPU_FLAG_FENCE) {
		h->flags = htole32(GPU_FLAG_FENCE);
		h->fence_id = htole64(c->fence_id);
		h->ctx_id = htole32(c->ctx_id);
		h->ring_idx = c->ring_idx;
	}
}
