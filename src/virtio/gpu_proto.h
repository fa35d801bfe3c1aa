/* The virtio-gpu wire format (virtio 1.2 §5.7.6), 2D subset, and the typed
 * request the parser (gpu_cmd.c) makes of a control or cursor queue buffer.
 * All fields on the wire are little-endian. */
#ifndef VMK_GPU_PROTO_H
#define VMK_GPU_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTIO_ID_GPU	  16
#define VIRTIO_GPU_F_EDID 1

#define GPU_EVENT_DISPLAY 1

enum gpu_cmd_type {
	GPU_CMD_GET_DISPLAY_INFO = 0x0100,
	GPU_CMD_RESOURCE_CREATE_2D = 0x0101,
	GPU_CMD_RESOURCE_UNREF = 0x0102,
	GPU_CMD_SET_SCANOUT = 0x0103,
	GPU_CMD_RESOURCE_FLUSH = 0x0104,
	GPU_CMD_TRANSFER_TO_HOST_2D = 0x0105,
	GPU_CMD_RESOURCE_ATTACH_BACKING = 0x0106,
	GPU_CMD_RESOURCE_DETACH_BACKING = 0x0107,
	GPU_CMD_GET_CAPSET_INFO = 0x0108,
	GPU_CMD_GET_CAPSET = 0x0109,
	GPU_CMD_GET_EDID = 0x010a,
	GPU_CMD_UPDATE_CURSOR = 0x0300,
	GPU_CMD_MOVE_CURSOR = 0x0301,
};

enum gpu_resp_type {
	GPU_RESP_OK_NODATA = 0x1100,
	GPU_RESP_OK_DISPLAY_INFO = 0x1101,
	GPU_RESP_OK_EDID = 0x1104,
	GPU_RESP_ERR_UNSPEC = 0x1200,
	GPU_RESP_ERR_OUT_OF_MEMORY = 0x1201,
	GPU_RESP_ERR_INVALID_SCANOUT_ID = 0x1202,
	GPU_RESP_ERR_INVALID_RESOURCE_ID = 0x1203,
	GPU_RESP_ERR_INVALID_CONTEXT_ID = 0x1204,
	GPU_RESP_ERR_INVALID_PARAMETER = 0x1205,
};

#define GPU_FLAG_FENCE (1u << 0)

/* Pixel formats: all 32 bits per pixel; the name is the byte order in memory. */
enum gpu_format {
	GPU_FORMAT_B8G8R8A8 = 1,
	GPU_FORMAT_B8G8R8X8 = 2,
	GPU_FORMAT_A8R8G8B8 = 3,
	GPU_FORMAT_X8R8G8B8 = 4,
	GPU_FORMAT_R8G8B8A8 = 67,
	GPU_FORMAT_X8B8G8R8 = 68,
	GPU_FORMAT_A8B8G8R8 = 121,
	GPU_FORMAT_R8G8B8X8 = 134,
};

struct gpu_ctrl_hdr {
	uint32_t type;
	uint32_t flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx;
	uint8_t padding[3];
} __attribute__((packed));

struct gpu_rect {
	uint32_t x, y, width, height;
} __attribute__((packed));

#define GPU_MAX_SCANOUTS 16

struct gpu_resp_display_info {
	struct gpu_ctrl_hdr hdr;
	struct {
		struct gpu_rect r;
		uint32_t enabled;
		uint32_t flags;
	} pmodes[GPU_MAX_SCANOUTS];
} __attribute__((packed));

#define GPU_EDID_MAX 1024
struct gpu_resp_edid {
	struct gpu_ctrl_hdr hdr;
	uint32_t size;
	uint32_t padding;
	uint8_t edid[GPU_EDID_MAX];
} __attribute__((packed));

struct gpu_config {
	uint32_t events_read;
	uint32_t events_clear;
	uint32_t num_scanouts;
	uint32_t num_capsets;
} __attribute__((packed));

/* One backing entry: guest address and length. */
struct gpu_mem_entry {
	uint64_t addr;
	uint32_t length;
	uint32_t padding;
} __attribute__((packed));

/* At most this many backing entries per resource (a 8192x8192 image in
 * separate 4 KiB pages needs 65536). */
#define GPU_MAX_ENTRIES 65536

/* A parsed request: the header's fields in host order, and the command's. */
struct gpu_cmd {
	uint32_t type, flags, ctx_id;
	uint64_t fence_id;
	uint8_t ring_idx;
	uint32_t resource_id;
	uint32_t scanout_id;
	uint32_t format, width, height; /* CREATE_2D */
	struct gpu_rect r;		/* SET_SCANOUT, FLUSH, TRANSFER */
	uint64_t offset;		/* TRANSFER */
	uint32_t nr_entries;		/* ATTACH_BACKING: entries copied to the caller's array */
	int32_t x, y;			/* cursor position */
	uint32_t hot_x, hot_y;		/* UPDATE_CURSOR */
};

enum gpu_parse {
	GPU_PARSE_OK = 0,
	GPU_PARSE_SHORT,   /* the buffer ends inside the request */
	GPU_PARSE_UNKNOWN, /* a command this device does not know */
	GPU_PARSE_TOO_MANY /* more backing entries than the device takes */
};

/* Reads one request from the device-readable buffers. For ATTACH_BACKING
 * the entries (host order) go to entries[0..nr_entries), at most max. */
enum gpu_parse gpu_cmd_parse(const struct iovec *iov, unsigned n, struct gpu_cmd *c,
			     struct gpu_mem_entry *entries, uint32_t max);
/* The response header a request gets (fence echoed when asked). */
void gpu_resp_hdr(const struct gpu_cmd *c, uint32_t type, struct gpu_ctrl_hdr *h);

/* EDID (gpu_edid.c): a 128-byte base block, and a DisplayID extension when
 * the size does not fit a detailed timing (above 4095). Returns the length. */
size_t gpu_edid(uint32_t width, uint32_t height, uint32_t serial, uint8_t out[256]);

#endif
