/* Unit tests of virtio-gpu: the configuration's checks, the EDID it shows,
 * and the device through the stand-in transport as a driver drives it:
 * display info, resources backed by scattered guest pages, transfers of
 * whole and partial rectangles, every pixel format, scanouts, flushes,
 * fences, the cursor, the memory cap, a display reconfigure, a reset, and
 * requests a hostile driver sends. */
#include "../unit/check.h"
#include "../unit/transport_stub.h"
#include "virtio/devices.h"
#include "virtio/gpu_res.h"
#include <endian.h>
#include <stdlib.h>
#include <vmkit/vmkit.h>

#define CTRLQ 0
#define CURQ  1
#define REQ   (DATA)		   /* request buffer */
#define RESP  (DATA + 0x10000ull)  /* response buffer */
#define PIX   (DATA + 0x100000ull) /* backing pages (scattered) */

static struct virtio_gpu *gpu;
static struct virtio_dev *dev;

static void on_loop_notify(void *ctx)
{
	dev->queue_notify(dev->opaque, (unsigned)(uintptr_t)ctx);
}

static struct gpu_ctrl_hdr hdr(uint32_t type)
{
	return (struct gpu_ctrl_hdr){.type = htole32(type)};
}

/* Sends a request of len bytes (already at REQ) on q; returns the
 * response's type (0 when none) and its length in *rlen. */
static uint32_t send_req(unsigned q, size_t len, uint32_t *rlen)
{
	struct buf b[2] = {{REQ, (uint32_t)len, false}, {RESP, 2048, true}};
	uint32_t id, l = 0;
	memset(g(RESP, 2048), 0, 2048);
	drv_add(q, b, 2);
	evloop_call(loop, on_loop_notify, (void *)(uintptr_t)q);
	if (!drv_wait_used(q, &id, &l))
		return 0xdead;
	if (rlen)
		*rlen = l;
	if (l < sizeof(struct gpu_ctrl_hdr))
		return 0;
	struct gpu_ctrl_hdr *h = g(RESP, sizeof(*h));
	return le32toh(h->type);
}

static uint32_t cmd(const void *req, size_t len)
{
	memcpy(g(REQ, len), req, len);
	return send_req(CTRLQ, len, NULL);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t create(uint32_t id, uint32_t fmt, uint32_t w, uint32_t h)
{
	uint8_t r[40] = {0};
	*(struct gpu_ctrl_hdr *)r = hdr(GPU_CMD_RESOURCE_CREATE_2D);
	put32(r + 24, id);
	put32(r + 28, fmt);
	put32(r + 32, w);
	put32(r + 36, h);
	return cmd(r, sizeof(r));
}

/* Backs resource id with n pieces of len bytes each, spread 8 KiB apart. */
static uint32_t attach(uint32_t id, unsigned n, uint32_t len, uint64_t base)
{
	uint8_t r[32 + 16 * 64] = {0};
	*(struct gpu_ctrl_hdr *)r = hdr(GPU_CMD_RESOURCE_ATTACH_BACKING);
	put32(r + 24, id);
	put32(r + 28, n);
	for (unsigned i = 0; i < n && i < 64; i++) {
		uint64_t a = htole64(base + 0x2000ull * i);
		memcpy(r + 32 + 16 * i, &a, 8);
		put32(r + 40 + 16 * i, len);
	}
	return cmd(r, 32 + 16ull * n);
}

static uint32_t rect_cmd(uint32_t type, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t a,
			 uint32_t b, uint64_t off)
{
	uint8_t r[56] = {0};
	*(struct gpu_ctrl_hdr *)r = hdr(type);
	put32(r + 24, x);
	put32(r + 28, y);
	put32(r + 32, w);
	put32(r + 36, h);
	if (type == GPU_CMD_TRANSFER_TO_HOST_2D) {
		off = htole64(off);
		memcpy(r + 40, &off, 8);
		put32(r + 48, a);
		return cmd(r, 56);
	}
	put32(r + 40, a);
	put32(r + 44, b);
	return cmd(r, 48);
}

/* Byte i of the backing of a resource attached by attach(n, len, PIX). */
static uint8_t *backing_byte(uint64_t i, uint32_t len)
{
	return g(PIX + 0x2000ull * (i / len) + i % len, 1);
}

/* What the device reported, as the machine would pass it on. */
static unsigned updates, cursor_updates;
static struct gpu_rect last_damage;
static void on_update(void *ctx, unsigned index, unsigned scanout, const struct gpu_rect *d)
{
	(void)ctx;
	(void)index;
	(void)scanout;
	if (d) {
		updates++;
		last_damage = *d;
	} else {
		cursor_updates++;
	}
}
static const struct virtio_gpu_hooks hooks = {.update = on_update};

static struct virtio_gpu *make(unsigned n, const uint32_t *w, const uint32_t *h, uint64_t limit)
{
	vmk_graphics_device *c = vmk_graphics_device_new();
	for (unsigned i = 0; i < n; i++)
		vmk_graphics_device_add_scanout(c, w[i], h[i], NULL);
	if (limit)
		vmk_graphics_device_set_memory_limit(c, limit, NULL);
	vmk_config *cfg = vmk_config_new();
	vmk_config_add_graphics_device(cfg, c, NULL);
	vmk_graphics_device_free(c);
	struct virtio_gpu *d =
	    virtio_gpu_new(&((struct vmk_config *)cfg)->graphics[0], &mem, 0, &hooks, NULL);
	vmk_config_free(cfg);
	return d;
}

static void test_config(void)
{
	vmk_error *err = NULL;
	vmk_graphics_device *c = vmk_graphics_device_new();
	CHECK(!vmk_graphics_device_add_scanout(c, 63, 600, &err) &&
		  strstr(vmk_error_get_message(err), "scanouts[0].width: 63"),
	      "a 63-pixel-wide scanout is refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_graphics_device_add_scanout(c, 800, 8193, &err) &&
		  strstr(vmk_error_get_message(err), "height: 8193"),
	      "8193 high is refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_graphics_device_set_memory_limit(c, 1 << 20, &err) &&
		  !strcmp(vmk_error_get_field(err), "memory_limit"),
	      "a 1 MiB memory limit is refused");
	vmk_error_free(err);
	err = NULL;
	vmk_config *cfg = vmk_config_new();
	vmk_config_add_graphics_device(cfg, c, NULL);
	vmk_config_validate(cfg, &err);
	const vmk_error *e = err;
	while (e && !strstr(vmk_error_get_message(e), "graphics_devices[0].scanouts"))
		e = vmk_error_next(e);
	CHECK(e, "validation: a device without a scanout: %s", e ? vmk_error_get_message(e) : "(none)");
	vmk_error_free(err);
	err = NULL;
	for (int i = 0; i < 16; i++)
		vmk_graphics_device_add_scanout(c, 640, 480, NULL);
	CHECK(!vmk_graphics_device_add_scanout(c, 640, 480, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED,
	      "a 17th scanout is refused");
	vmk_error_free(err);
	err = NULL;
	for (int i = 1; i < 4; i++)
		vmk_config_add_graphics_device(cfg, c, NULL);
	CHECK(!vmk_config_add_graphics_device(cfg, c, &err) && vmk_config_get_graphics_device_count(cfg) == 4,
	      "a fifth graphics device is refused");
	vmk_error_free(err);
	vmk_config_free(cfg);
	vmk_graphics_device_free(c);
}

static bool edid_sum_ok(const uint8_t *b)
{
	uint8_t s = 0;
	for (int i = 0; i < 128; i++)
		s = (uint8_t)(s + b[i]);
	return s == 0;
}

static void test_edid(void)
{
	uint8_t e[256];
	size_t n = gpu_edid(1280, 800, 7, e);
	static const uint8_t head[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	CHECK(n == 128 && !memcmp(e, head, 8) && edid_sum_ok(e) && e[126] == 0,
	      "EDID 1280x800: one valid block");
	const uint8_t *d = e + 54;
	uint32_t w = d[2] | (d[4] >> 4) << 8, h = d[5] | (d[7] >> 4) << 8;
	CHECK(w == 1280 && h == 800 && (d[0] | d[1] << 8) != 0, "the preferred timing is 1280x800 (%ux%u)", w,
	      h);
	bool name = false;
	for (int i = 54; i < 126; i += 18)
		name = name || (e[i + 3] == 0xfc && !memcmp(e + i + 5, "vmkit\n", 6));
	CHECK(name, "the monitor is named vmkit");
	n = gpu_edid(8192, 4320, 7, e);
	CHECK(n == 256 && edid_sum_ok(e) && edid_sum_ok(e + 128) && e[126] == 1 && e[128] == 0x70,
	      "8192x4320: a DisplayID extension");
	const uint8_t *t = e + 128 + 8;
	CHECK((t[4] | t[5] << 8) + 1 == 8192 && (t[12] | t[13] << 8) + 1 == 4320 && (t[3] & 0x80),
	      "its preferred type I timing is 8192x4320");
	uint8_t s = 0;
	for (int i = 129; i < 128 + 5 + 3 + 20 + 1; i++)
		s = (uint8_t)(s + e[i]);
	CHECK(s == 0, "the DisplayID section's checksum");
}

static void test_device(void)
{
	const uint32_t w[2] = {1024, 640}, h[2] = {768, 480};
	uint32_t rlen;

	queues_reset();
	gpu = make(2, w, h, 16ull << 20);
	dev = virtio_gpu_dev(gpu);
	features = 1ull << VIRTIO_GPU_F_EDID;
	dev->activate(dev->opaque);
	struct gpu_config *cf = (struct gpu_config *)dev->config;
	CHECK(dev->device_id == 16 && dev->num_queues == 2 && le32toh(cf->num_scanouts) == 2 &&
		  (dev->features >> VIRTIO_GPU_F_EDID & 1),
	      "virtio id 16, two queues, two scanouts, EDID offered");

	struct gpu_ctrl_hdr q = hdr(GPU_CMD_GET_DISPLAY_INFO);
	memcpy(g(REQ, sizeof(q)), &q, sizeof(q));
	uint32_t t = send_req(CTRLQ, sizeof(q), &rlen);
	struct gpu_resp_display_info *di = g(RESP, sizeof(*di));
	CHECK(t == GPU_RESP_OK_DISPLAY_INFO && rlen == sizeof(*di) &&
		  le32toh(di->pmodes[0].r.width) == 1024 && le32toh(di->pmodes[1].r.height) == 480 &&
		  di->pmodes[1].enabled && !di->pmodes[2].enabled,
	      "display info: 1024x768 and 640x480");

	uint8_t er[32] = {0};
	*(struct gpu_ctrl_hdr *)er = hdr(GPU_CMD_GET_EDID);
	put32(er + 24, 1);
	memcpy(g(REQ, 32), er, 32);
	t = send_req(CTRLQ, 32, &rlen);
	struct gpu_resp_edid *ed = g(RESP, sizeof(*ed));
	CHECK(t == GPU_RESP_OK_EDID && le32toh(ed->size) == 128 && ed->edid[56] == (640 & 0xff) &&
		  ed->edid[59] == (480 & 0xff),
	      "EDID of scanout 1: 640x480 preferred");
	put32(er + 24, 2);
	CHECK(cmd(er, 32) == GPU_RESP_ERR_INVALID_SCANOUT_ID, "EDID of scanout 2: invalid scanout");

	/* A 48x20 image backed by 3 pieces of 1280 bytes, 8 KiB apart. */
	CHECK(create(5, GPU_FORMAT_B8G8R8X8, 48, 20) == GPU_RESP_OK_NODATA, "create a 48x20 resource");
	CHECK(create(5, GPU_FORMAT_B8G8R8X8, 8, 8) == GPU_RESP_ERR_INVALID_RESOURCE_ID, "the same id again");
	CHECK(create(0, GPU_FORMAT_B8G8R8X8, 8, 8) == GPU_RESP_ERR_INVALID_RESOURCE_ID, "resource id 0");
	CHECK(create(6, 99, 8, 8) == GPU_RESP_ERR_INVALID_PARAMETER, "an unknown format");
	CHECK(create(6, GPU_FORMAT_B8G8R8X8, 0, 8) == GPU_RESP_ERR_INVALID_PARAMETER, "width 0");
	CHECK(create(6, GPU_FORMAT_B8G8R8X8, 0xffffffff, 0xffffffff) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "4G x 4G (would overflow)");
	CHECK(create(6, GPU_FORMAT_B8G8R8X8, 4096, 4096) == GPU_RESP_ERR_OUT_OF_MEMORY,
	      "64 MiB over a 16 MiB cap: out of memory");
	CHECK(rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 48, 20, 5, 0, 0) == GPU_RESP_ERR_UNSPEC,
	      "a transfer before any backing fails");
	CHECK(attach(5, 1, 4096, mem.size - 100) == GPU_RESP_ERR_UNSPEC, "backing beyond RAM is refused");
	CHECK(attach(5, 3, 1280, PIX) == GPU_RESP_OK_NODATA, "backing of 3 scattered pieces");
	CHECK(attach(5, 1, 4096, PIX) == GPU_RESP_ERR_UNSPEC, "a second backing is refused");
	for (uint64_t i = 0; i < 48 * 20 * 4; i++)
		*backing_byte(i, 1280) = (uint8_t)(i * 7 + i / 192);
	CHECK(rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 48, 20, 5, 0, 0) == GPU_RESP_OK_NODATA,
	      "transfer the whole image");
	CHECK(rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 40, 0, 9, 1, 5, 0, 0) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "a rectangle past the right edge");
	CHECK(rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0xfffffff0, 1, 0x20, 5, 0, 0) ==
		  GPU_RESP_ERR_INVALID_PARAMETER,
	      "y + height wrapping 32 bits");
	CHECK(rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 48, 20, 5, 0, ~0ull - 8) == GPU_RESP_OK_NODATA,
	      "an offset beyond the backing copies nothing (and does not crash)");

	vmk_frame *f = NULL;
	CHECK(virtio_gpu_copy_frame(gpu, 0, &f, NULL) && !f->active && f->width == 1024 && f->pixels[0] == 0,
	      "before set_scanout: an inactive black 1024x768 frame");
	uint64_t serial0 = f->serial;
	vmk_frame_free(f);
	CHECK(rect_cmd(GPU_CMD_SET_SCANOUT, 0, 0, 48, 20, 2, 5, 0) == GPU_RESP_ERR_INVALID_SCANOUT_ID,
	      "set_scanout on scanout 2");
	CHECK(rect_cmd(GPU_CMD_SET_SCANOUT, 8, 4, 48, 20, 0, 5, 0) == GPU_RESP_ERR_INVALID_PARAMETER,
	      "set_scanout with a rectangle beyond the resource");
	CHECK(rect_cmd(GPU_CMD_SET_SCANOUT, 0, 0, 48, 20, 0, 5, 0) == GPU_RESP_OK_NODATA, "set_scanout 0");
	CHECK(rect_cmd(GPU_CMD_RESOURCE_FLUSH, 0, 0, 48, 20, 5, 0, 0) == GPU_RESP_OK_NODATA, "flush");
	unsigned u0 = updates;
	CHECK(rect_cmd(GPU_CMD_RESOURCE_FLUSH, 8, 4, 3, 2, 5, 0, 0) == GPU_RESP_OK_NODATA &&
		  updates == u0 + 1 && last_damage.x == 8 && last_damage.y == 4 && last_damage.width == 3 &&
		  last_damage.height == 2,
	      "a partial flush reports its rectangle as damage");
	f = NULL;
	CHECK(virtio_gpu_copy_frame(gpu, 0, &f, NULL) && f->active && f->width == 48 && f->height == 20 &&
		  f->serial != serial0,
	      "the frame is the 48x20 image, a new serial");
	bool same = f != NULL;
	for (uint64_t i = 0; same && i < 48 * 20 * 4; i++)
		same = f->pixels[i] == *backing_byte(i, 1280);
	CHECK(same, "every byte of the frame is the guest's");
	vmk_frame_free(f);

	/* A partial transfer: a 3x2 rectangle at (10,5) from its place in the backing. */
	vmk_frame *old = NULL;
	virtio_gpu_copy_frame(gpu, 0, &old, NULL);
	for (uint64_t i = 0; i < 48 * 20 * 4; i++)
		*backing_byte(i, 1280) = 0xab;
	uint64_t off = (5 * 48 + 10) * 4;
	CHECK(rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 10, 5, 3, 2, 5, 0, off) == GPU_RESP_OK_NODATA,
	      "transfer a 3x2 rectangle");
	f = NULL;
	virtio_gpu_copy_frame(gpu, 0, &f, NULL);
	unsigned inside = 0, outside = 0;
	for (uint64_t i = 0; f && old && i < 48 * 20 * 4; i++) {
		uint64_t x = i / 4 % 48, y = i / 4 / 48;
		if (x >= 10 && x < 13 && y >= 5 && y < 7)
			inside += f->pixels[i] == 0xab;
		else
			outside += f->pixels[i] != old->pixels[i];
	}
	CHECK(inside == 3 * 2 * 4 && outside == 0, "exactly those 6 pixels changed (%u in, %u out)", inside,
	      outside);
	vmk_frame_free(f);
	vmk_frame_free(old);

	/* Formats: one pixel R=0x11 G=0x22 B=0x33 in each. */
	static const struct {
		uint32_t fmt;
		uint8_t px[4];
	} fm[] = {
	    {GPU_FORMAT_B8G8R8A8, {0x33, 0x22, 0x11, 0xff}}, {GPU_FORMAT_A8R8G8B8, {0xff, 0x11, 0x22, 0x33}},
	    {GPU_FORMAT_X8R8G8B8, {0, 0x11, 0x22, 0x33}},    {GPU_FORMAT_R8G8B8A8, {0x11, 0x22, 0x33, 0xff}},
	    {GPU_FORMAT_X8B8G8R8, {0, 0x33, 0x22, 0x11}},    {GPU_FORMAT_A8B8G8R8, {0xff, 0x33, 0x22, 0x11}},
	    {GPU_FORMAT_R8G8B8X8, {0x11, 0x22, 0x33, 0}}};
	unsigned fok = 0;
	for (unsigned i = 0; i < sizeof(fm) / sizeof(fm[0]); i++) {
		uint32_t id = 100 + i;
		create(id, fm[i].fmt, 64, 64);
		attach(id, 1, 64 * 64 * 4, PIX + 0x200000);
		memcpy(g(PIX + 0x200000, 4), fm[i].px, 4);
		rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 64, 64, id, 0, 0);
		rect_cmd(GPU_CMD_SET_SCANOUT, 0, 0, 64, 64, 1, id, 0);
		f = NULL;
		virtio_gpu_copy_frame(gpu, 1, &f, NULL);
		fok += f && f->pixels[0] == 0x33 && f->pixels[1] == 0x22 && f->pixels[2] == 0x11;
		vmk_frame_free(f);
	}
	CHECK(fok == 7, "all 7 other formats read as the same colour (%u)", fok);

	/* Fences are echoed. */
	struct gpu_ctrl_hdr fq = hdr(GPU_CMD_RESOURCE_FLUSH);
	uint8_t fr[48] = {0};
	fq.flags = htole32(GPU_FLAG_FENCE);
	fq.fence_id = htole64(0x1234567890ull);
	memcpy(fr, &fq, sizeof(fq));
	put32(fr + 32, 48);
	put32(fr + 36, 20);
	put32(fr + 40, 5);
	CHECK(cmd(fr, 48) == GPU_RESP_OK_NODATA, "a fenced flush");
	struct gpu_ctrl_hdr *rh = g(RESP, sizeof(*rh));
	CHECK((le32toh(rh->flags) & GPU_FLAG_FENCE) && le64toh(rh->fence_id) == 0x1234567890ull,
	      "its fence is answered");

	/* Hostile requests. */
	struct gpu_ctrl_hdr u = hdr(0x0777);
	CHECK(cmd(&u, sizeof(u)) == GPU_RESP_ERR_UNSPEC, "an unknown command");
	CHECK(cmd(&u, 10) == GPU_RESP_ERR_UNSPEC, "a request shorter than a header fails");
	uint8_t big[32] = {0};
	*(struct gpu_ctrl_hdr *)big = hdr(GPU_CMD_RESOURCE_ATTACH_BACKING);
	put32(big + 24, 100);
	put32(big + 28, 0x7fffffff);
	CHECK(cmd(big, 32) == GPU_RESP_ERR_UNSPEC, "2^31 backing entries");
	put32(big + 28, 1000);
	CHECK(cmd(big, 32) == GPU_RESP_ERR_UNSPEC, "1000 entries announced, none sent");
	struct gpu_ctrl_hdr cq = hdr(GPU_CMD_MOVE_CURSOR);
	CHECK(cmd(&cq, sizeof(cq)) == GPU_RESP_ERR_UNSPEC, "a cursor command on the control queue");

	/* The cursor: a 64x64 image at (100, 50), hot spot (3, 4). */
	uint8_t cu[56] = {0};
	*(struct gpu_ctrl_hdr *)cu = hdr(GPU_CMD_UPDATE_CURSOR);
	put32(cu + 24, 0);
	put32(cu + 28, 100);
	put32(cu + 32, 50);
	put32(cu + 40, 100);
	put32(cu + 44, 3);
	put32(cu + 48, 4);
	memcpy(g(REQ, 56), cu, 56);
	CHECK(send_req(CURQ, 56, &rlen) == 0 && rlen == 0, "a cursor update is taken");
	f = NULL;
	virtio_gpu_copy_frame(gpu, 0, &f, NULL);
	CHECK(f && f->cursor_visible && f->cursor_x == 100 && f->cursor_y == 50 && f->cursor_hot_x == 3,
	      "the frame shows the cursor at (100, 50)");
	vmk_frame_free(f);
	*(struct gpu_ctrl_hdr *)cu = hdr(GPU_CMD_MOVE_CURSOR);
	put32(cu + 28, 7);
	memcpy(g(REQ, 56), cu, 56);
	send_req(CURQ, 56, NULL);
	f = NULL;
	virtio_gpu_copy_frame(gpu, 0, &f, NULL);
	CHECK(f && f->cursor_visible && f->cursor_x == 7, "a move keeps the image");
	vmk_frame_free(f);
	vmk_cursor *cur = NULL;
	CHECK(virtio_gpu_copy_cursor(gpu, &cur, NULL) && cur->visible && cur->width == 64 &&
		  cur->hot_y == 4 && cursor_updates == 2,
	      "the cursor's image and two cursor updates reported");
	vmk_cursor_free(cur);

	/* Reconfigure: scanout 1 becomes 1920x1080. */
	int changes = config_changes;
	CHECK(virtio_gpu_reconfigure(gpu, 1, 1920, 1080, NULL), "reconfigure scanout 1 to 1920x1080");
	CHECK(config_changes == changes + 1 && le32toh(cf->events_read) == GPU_EVENT_DISPLAY,
	      "the driver gets a display event");
	memcpy(g(REQ, sizeof(q)), &q, sizeof(q));
	send_req(CTRLQ, sizeof(q), NULL);
	CHECK(le32toh(di->pmodes[1].r.width) == 1920 && le32toh(di->pmodes[1].r.height) == 1080,
	      "display info shows 1920x1080");
	put32((uint8_t *)&cf->events_clear, GPU_EVENT_DISPLAY);
	dev->config_write(dev->opaque, offsetof(struct gpu_config, events_clear), 4);
	CHECK(cf->events_read == 0 && le32toh(cf->num_scanouts) == 2, "events_clear clears it");
	cf->num_scanouts = htole32(99);
	dev->config_write(dev->opaque, offsetof(struct gpu_config, num_scanouts), 4);
	CHECK(le32toh(cf->num_scanouts) == 2, "num_scanouts is read-only");
	vmk_error *err = NULL;
	CHECK(!virtio_gpu_reconfigure(gpu, 1, 20, 1080, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_INVALID_ARGUMENT,
	      "reconfigure to 20 pixels wide is refused");
	vmk_error_free(err);

	/* Unref of the shown resource turns the scanout off; reset frees all. */
	uint8_t un[32] = {0};
	*(struct gpu_ctrl_hdr *)un = hdr(GPU_CMD_RESOURCE_UNREF);
	put32(un + 24, 5);
	CHECK(cmd(un, 32) == GPU_RESP_OK_NODATA, "unref the shown resource");
	f = NULL;
	virtio_gpu_copy_frame(gpu, 0, &f, NULL);
	CHECK(f && !f->active, "scanout 0 shows nothing now");
	vmk_frame_free(f);
	CHECK(cmd(un, 32) == GPU_RESP_ERR_INVALID_RESOURCE_ID, "unref it again");
	dev->reset(dev->opaque);
	f = NULL;
	virtio_gpu_copy_frame(gpu, 1, &f, NULL);
	CHECK(f && !f->active && f->width == 1920, "after a reset: inactive, the new size");
	vmk_frame_free(f);
	queues_reset();
	CHECK(create(5, GPU_FORMAT_B8G8R8X8, 2000, 2000) == GPU_RESP_OK_NODATA,
	      "the memory a reset frees can be used again (15 MiB)");

	/* PNG of a frame. */
	f = NULL;
	virtio_gpu_copy_frame(gpu, 0, &f, NULL);
	uint8_t *png = NULL;
	size_t plen = 0;
	CHECK(vmk_frame_to_png(f, &png, &plen, NULL) && plen > 50 && !memcmp(png + 1, "PNG", 3),
	      "a frame as PNG");
	free(png);
	char path[] = "/tmp/vmkit-gpu-test-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	CHECK(vmk_frame_save_png(f, path, NULL), "saved to a file");
	err = NULL;
	CHECK(!vmk_frame_save_png(f, "/nonexistent/dir/x.png", &err) &&
		  strstr(vmk_error_get_message(err), "x.png"),
	      "an unwritable path is named: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	unlink(path);
	vmk_frame_free(f);
	virtio_gpu_free(gpu);
}

static uint16_t dispi_rd(unsigned i)
{
	uint8_t d[2];
	dev->vga_read(dev->opaque, 0x500 + 2 * i, d, 2);
	return (uint16_t)(d[0] | d[1] << 8);
}

static void dispi_wr(unsigned i, uint16_t v)
{
	uint8_t d[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	dev->vga_write(dev->opaque, 0x500 + 2 * i, d, 2);
}

/* The VGA side: vram in BAR 0, Bochs dispi registers; scanout 0 shows vram
 * until the virtio driver shows a resource there. */
static void test_vga(void)
{
	const uint32_t w[1] = {1024}, h[1] = {768};
	vmk_frame *f = NULL;

	queues_reset();
	gpu = make(1, w, h, 0);
	dev = virtio_gpu_dev(gpu);
	CHECK(dev->vram && dev->vram_size == 16ull << 20 && dev->vga_read && dev->vga_write,
	      "the first device is VGA compatible: 16 MiB of vram");
	CHECK(dispi_rd(0) == 0xb0c5 && dispi_rd(10) == 256, "Bochs id B0C5, 256 x 64 KiB of vram");
	dispi_wr(1, 640);
	dispi_wr(2, 480);
	dispi_wr(3, 32);
	dispi_wr(4, 0x41);
	CHECK(dispi_rd(6) == 640 && dispi_rd(7) == (16u << 20) / 2560, "enabling sets the virtual size");
	dev->vram[0] = 0x33;
	dev->vram[1] = 0x22;
	dev->vram[2] = 0x11;
	dev->vram[2560 * 479 + 639 * 4] = 0x77;
	CHECK(virtio_gpu_copy_frame(gpu, 0, &f, NULL) && f->active && f->width == 640 && f->height == 480 &&
		  f->pixels[0] == 0x33 && f->pixels[2] == 0x11 && f->pixels[2560 * 479 + 639 * 4] == 0x77,
	      "scanout 0 shows the 640x480 mode in vram");
	vmk_frame_free(f);
	dispi_wr(9, 0xffff); /* y offset far beyond vram */
	f = NULL;
	CHECK(virtio_gpu_copy_frame(gpu, 0, &f, NULL) && !f->active && f->width == 1024,
	      "a mode reaching beyond vram shows nothing");
	vmk_frame_free(f);
	dispi_wr(9, 0);
	dispi_wr(3, 16);
	f = NULL;
	CHECK(virtio_gpu_copy_frame(gpu, 0, &f, NULL) && !f->active, "16 bits per pixel: not shown");
	vmk_frame_free(f);
	dispi_wr(3, 32);
	uint8_t z[4] = {0};
	dev->vga_write(dev->opaque, 0x3000, z, 4);
	dev->vga_read(dev->opaque, 0x5ff, z, 4);
	CHECK(1, "accesses outside the registers are ignored");
	features = 0;
	create(9, GPU_FORMAT_B8G8R8X8, 64, 64);
	attach(9, 1, 64 * 64 * 4, PIX);
	memset(g(PIX, 64 * 64 * 4), 0x55, 64 * 64 * 4);
	rect_cmd(GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 64, 64, 9, 0, 0);
	rect_cmd(GPU_CMD_SET_SCANOUT, 0, 0, 64, 64, 0, 9, 0);
	f = NULL;
	CHECK(virtio_gpu_copy_frame(gpu, 0, &f, NULL) && f->active && f->width == 64 && f->pixels[0] == 0x55,
	      "the virtio driver's scanout wins over vram");
	vmk_frame_free(f);
	virtio_gpu_free(gpu);

	vmk_graphics_device *c = vmk_graphics_device_new();
	vmk_graphics_device_add_scanout(c, 640, 480, NULL);
	vmk_graphics_device_set_vga_compatible(c, false);
	vmk_config *cfg = vmk_config_new();
	vmk_config_add_graphics_device(cfg, c, NULL);
	gpu = virtio_gpu_new(&((struct vmk_config *)cfg)->graphics[0], &mem, 0, &hooks, NULL);
	CHECK(gpu && !virtio_gpu_dev(gpu)->vram, "VGA compatibility off: a plain virtio-gpu");
	virtio_gpu_free(gpu);
	((struct vmk_config *)cfg)->graphics[0].vga = true;
	gpu = virtio_gpu_new(&((struct vmk_config *)cfg)->graphics[0], &mem, 1, &hooks, NULL);
	CHECK(gpu && !virtio_gpu_dev(gpu)->vram, "only the first device is ever VGA");
	virtio_gpu_free(gpu);
	vmk_config_free(cfg);
	vmk_graphics_device_free(c);
}

int main(void)
{
	if (gmem_init(&mem, MEM_SIZE) != 0)
		return 1;
	loop = evloop_new();
	test_config();
	test_edid();
	test_device();
	test_vga();
	evloop_free(loop);
	gmem_destroy(&mem);
	return check_done();
}
