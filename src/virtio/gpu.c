/* virtio-gpu (virtio 1.2 §5.7), 2D: the device around the engine in
 * gpu_res.c. Requests are parsed (gpu_cmd.c) and executed on the I/O
 * thread, at most GPU_BUDGET per turn so a guest that keeps the queue full
 * cannot hold the thread; the host copies frames out under the same lock
 * from any thread. A display reconfigure changes a scanout's size and tells
 * the driver with a display event (config interrupt). */
#include "util/error_priv.h"
#include "virtio/devices.h"
#include "virtio/gpu_res.h"
#include "virtio/gpu_vga.h"
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <vmkit/graphics.h>

#define GPU_CTRLQ   0
#define GPU_CURSORQ 1
#define GPU_BUDGET  256 /* requests per queue per turn of the I/O thread */

struct virtio_gpu {
	struct virtio_dev dev;
	struct gpu_config config; /* what the driver reads (transport lock) */
	uint32_t events;	  /* pending display events (transport lock) */

	pthread_mutex_t lock; /* st: the I/O thread runs requests, the host copies frames */
	struct gpu_state st;
	struct virtio_gpu_hooks hooks;
	unsigned index;
	/* VGA compatibility (scanout 0 shows vram while the virtio driver
	 * shows nothing there): the registers under lock, and a timer on the
	 * I/O thread that turns KVM's dirty log of vram into damage. */
	bool has_vga;
	struct gpu_vga vga;
	int vga_tfd;
	bool again[2]; /* a turn is posted to go on with queue q (I/O thread) */

	/* I/O thread only. */
	struct gpu_mem_entry *entries;
	struct virtq_elem elem;
	uint8_t resp[GPU_RESP_MAX];
};

static void sync_config(struct virtio_gpu *g)
{
	g->config.events_read = htole32(g->events);
	g->config.events_clear = 0;
	g->config.num_scanouts = htole32(g->st.nscanouts);
	g->config.num_capsets = 0;
}

/* Transport lock held: only events_clear is the driver's to write. */
static void gpu_config_write(void *opaque, size_t off, unsigned size)
{
	struct virtio_gpu *g = opaque;
	(void)size;
	if (off == offsetof(struct gpu_config, events_clear))
		g->events &= ~le32toh(g->config.events_clear);
	sync_config(g);
}

static void run_queue(struct virtio_gpu *g, unsigned q);

/* Tells the host what requests changed (outside the lock: the hook may
 * copy frames from another thread meanwhile). */
static void report(struct virtio_gpu *g)
{
	struct gpu_rect d[GPU_MAX_SCANOUTS];
	bool damaged[GPU_MAX_SCANOUTS], cursor;
	unsigned n = g->st.nscanouts;

	pthread_mutex_lock(&g->lock);
	memcpy(d, g->st.damage, sizeof(d));
	memcpy(damaged, g->st.damaged, sizeof(damaged));
	memset(g->st.damaged, 0, sizeof(g->st.damaged));
	cursor = g->st.cursor_changed;
	g->st.cursor_changed = false;
	pthread_mutex_unlock(&g->lock);
	if (!g->hooks.update)
		return;
	for (unsigned i = 0; i < n; i++)
		if (damaged[i])
			g->hooks.update(g->hooks.ctx, g->index, i, &d[i]);
	if (cursor)
		g->hooks.update(g->hooks.ctx, g->index, g->st.cursor.scanout, NULL);
}

static void again_ctrl(void *ctx)
{
	struct virtio_gpu *g = ctx;
	g->again[GPU_CTRLQ] = false;
	run_queue(g, GPU_CTRLQ);
}

static void again_cursor(void *ctx)
{
	struct virtio_gpu *g = ctx;
	g->again[GPU_CURSORQ] = false;
	run_queue(g, GPU_CURSORQ);
}

static void run_queue(struct virtio_gpu *g, unsigned q)
{
	struct virtq *vq = virtio_queue(&g->dev, q);
	unsigned n = 0;
	int ret = 0;

	while (vq && n < GPU_BUDGET && (ret = virtq_pop(vq, &g->elem)) == 1) {
		struct gpu_cmd c;
		size_t len;
		enum gpu_parse p = gpu_cmd_parse(g->elem.iov, g->elem.nout, &c, g->entries, GPU_MAX_ENTRIES);
		bool wrong_queue =
		    (q == GPU_CURSORQ) != (c.type == GPU_CMD_UPDATE_CURSOR || c.type == GPU_CMD_MOVE_CURSOR);
		if (p != GPU_PARSE_OK || wrong_queue) {
			gpu_resp_hdr(&c, GPU_RESP_ERR_UNSPEC, (struct gpu_ctrl_hdr *)g->resp);
			len = q == GPU_CURSORQ ? 0 : sizeof(struct gpu_ctrl_hdr);
		} else {
			pthread_mutex_lock(&g->lock);
			len = gpu_exec(&g->st, &c, g->entries, g->resp);
			pthread_mutex_unlock(&g->lock);
		}
		size_t written = iov_copy_to(g->elem.iov + g->elem.nout, g->elem.nin, 0, g->resp, len);
		virtq_push(vq, g->elem.head, (uint32_t)written);
		n++;
	}
	if (n)
		report(g);
	if (ret < 0) {
		virtio_set_needs_reset(&g->dev, "virtio-gpu: malformed queue");
		return;
	}
	if (n)
		virtio_notify_queue(&g->dev, q);
	if (n == GPU_BUDGET && !g->again[q]) {
		/* More may wait: go on after the other work of the thread. */
		g->again[q] =
		    evloop_post(virtio_io_loop(&g->dev), q == GPU_CTRLQ ? again_ctrl : again_cursor, g) == 0;
	}
}

static void gpu_queue_notify(void *opaque, unsigned q)
{
	run_queue(opaque, q);
}

static int gpu_activate(void *opaque)
{
	struct virtio_gpu *g = opaque;
	pthread_mutex_lock(&g->lock);
	g->st.edid = virtio_has_feature(&g->dev, VIRTIO_GPU_F_EDID);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void gpu_reset(void *opaque)
{
	struct virtio_gpu *g = opaque;
	pthread_mutex_lock(&g->lock);
	gpu_state_reset(&g->st);
	pthread_mutex_unlock(&g->lock);
	g->events = 0;
	sync_config(g);
	report(g);
}

static void vga_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct virtio_gpu *g = opaque;
	pthread_mutex_lock(&g->lock);
	gpu_vga_read(&g->vga, off, data, size);
	pthread_mutex_unlock(&g->lock);
}

static void vga_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct virtio_gpu *g = opaque;
	pthread_mutex_lock(&g->lock);
	gpu_vga_write(&g->vga, off, data, size);
	pthread_mutex_unlock(&g->lock);
}

/* Whether scanout 0 shows vram now (lock held). */
static bool vga_shown(struct virtio_gpu *g, uint32_t *w, uint32_t *h)
{
	return g->has_vga && !g->st.scanout[0].resource_id && gpu_vga_mode(&g->vga, w, h);
}

/* 30 times a second: what the guest wrote to vram becomes damage. */
static void vga_tick(void *ctx, uint32_t events)
{
	struct virtio_gpu *g = ctx;
	uint64_t n, first, end, stride, dfirst, dend;
	uint32_t w, h;
	(void)events;
	(void)!read(g->vga_tfd, &n, sizeof(n));
	int dirty = virtio_vram_dirty(&g->dev, &dfirst, &dend);
	pthread_mutex_lock(&g->lock);
	bool changed = g->vga.changed;
	g->vga.changed = false;
	if (vga_shown(g, &w, &h)) {
		gpu_vga_span(&g->vga, &first, &end, &stride);
		if (changed || dirty < 0) {
			gpu_damage(&g->st, 0, (struct gpu_rect){0, 0, w, h});
		} else if (dirty > 0 && dfirst < end && dend > first) {
			/* Whole rows from the first to the last dirty page. */
			uint64_t y0 = dfirst > first ? (dfirst - first) / stride : 0;
			uint64_t y1 = (dend - first + stride - 1) / stride;
			if (y1 > h)
				y1 = h;
			if (y0 < y1)
				gpu_damage(&g->st, 0,
					   (struct gpu_rect){0, (uint32_t)y0, w, (uint32_t)(y1 - y0)});
		}
		if (g->st.damaged[0])
			g->st.scanout[0].serial = ++g->st.serial;
	} else if (changed) {
		/* The mode went away: black, of the scanout's size. */
		gpu_damage(&g->st, 0,
			   (struct gpu_rect){0, 0, g->st.scanout[0].width, g->st.scanout[0].height});
		g->st.scanout[0].serial = ++g->st.serial;
	}
	pthread_mutex_unlock(&g->lock);
	report(g);
}

bool virtio_gpu_start(struct virtio_gpu *g)
{
	if (!g->has_vga)
		return true;
	struct itimerspec t = {.it_interval.tv_nsec = 33333333, .it_value.tv_nsec = 33333333};
	g->vga_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	return g->vga_tfd >= 0 && timerfd_settime(g->vga_tfd, 0, &t, NULL) == 0 &&
	       evloop_add_fd(virtio_io_loop(&g->dev), g->vga_tfd, EPOLLIN, vga_tick, g) == 0;
}

/* vram for scanout 0's size: a power of two from 16 to 256 MiB. */
static uint64_t vram_size(uint32_t w, uint32_t h)
{
	uint64_t need = (uint64_t)w * h * 4, size = 16ull << 20;
	while (size < need && size < (256ull << 20))
		size *= 2;
	return size;
}

struct virtio_gpu *virtio_gpu_new(const struct vmk_graphics_device *cfg, const struct gmem *mem,
				  unsigned index, const struct virtio_gpu_hooks *hooks, vmk_error **err)
{
	struct virtio_gpu *g = calloc(1, sizeof(*g));

	if (!g || !(g->entries = calloc(GPU_MAX_ENTRIES, sizeof(*g->entries)))) {
		free(g);
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "graphics_devices", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	gpu_state_init(&g->st, mem, cfg->memory_limit, (unsigned)cfg->nscanouts, cfg->width, cfg->height);
	g->st.edid_serial = (index + 1) << 8;
	g->index = index;
	g->vga_tfd = -1;
	if (hooks)
		g->hooks = *hooks;
	/* Only the first device is the VGA: firmware and the OS take one. */
	g->has_vga = cfg->vga && index == 0;
	if (g->has_vga && !gpu_vga_init(&g->vga, vram_size(cfg->width[0], cfg->height[0]))) {
		virtio_gpu_free(g);
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "graphics_devices",
			      "graphics_devices[0]: no memory for vram");
		return NULL;
	}
	if (g->has_vga)
		gpu_edid(cfg->width[0], cfg->height[0], g->st.edid_serial, g->vga.edid);
	sync_config(g);
	g->dev = (struct virtio_dev){
	    .name = "virtio-gpu",
	    .device_id = VIRTIO_ID_GPU,
	    .pci_class = 0x038000, /* display controller, other */
	    .features = 1ull << VIRTIO_GPU_F_EDID,
	    .num_queues = 2,
	    .queue_max_size = 256,
	    .config = (uint8_t *)&g->config,
	    .config_size = sizeof(g->config),
	    .opaque = g,
	    .config_write = gpu_config_write,
	    .activate = gpu_activate,
	    .queue_notify = gpu_queue_notify,
	    .reset = gpu_reset,
	};
	if (g->has_vga) {
		g->dev.vram = g->vga.vram;
		g->dev.vram_size = g->vga.vram_size;
		g->dev.vga_read = vga_read;
		g->dev.vga_write = vga_write;
	}
	return g;
}

struct virtio_dev *virtio_gpu_dev(struct virtio_gpu *g)
{
	return &g->dev;
}

unsigned virtio_gpu_scanouts(const struct virtio_gpu *g)
{
	return g->st.nscanouts;
}

bool virtio_gpu_copy_frame(struct virtio_gpu *g, unsigned scanout, vmk_frame **out, vmk_error **err)
{
	if (scanout >= g->st.nscanouts)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "scanout",
				     "scanout: %u is not a scanout (the device has %u)", scanout,
				     g->st.nscanouts);
	vmk_frame *f = calloc(1, sizeof(*f));
	if (!f)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "frame", "out of memory");
	pthread_mutex_lock(&g->lock);
	bool vga = scanout == 0 && vga_shown(g, &f->width, &f->height);
	f->active = vga || gpu_scanout_size(&g->st, scanout, &f->width, &f->height);
	f->stride = f->width * 4;
	/* calloc: an inactive scanout is black. */
	f->pixels = calloc((size_t)f->height, f->stride);
	if (f->pixels && vga)
		gpu_vga_copy(&g->vga, f->pixels);
	else if (f->pixels && f->active)
		gpu_scanout_copy(&g->st, scanout, f->pixels);
	f->serial = g->st.scanout[scanout].serial;
	const struct gpu_cursor *cu = &g->st.cursor;
	if (cu->visible && cu->scanout == scanout) {
		f->cursor_visible = true;
		f->cursor_x = cu->x;
		f->cursor_y = cu->y;
		f->cursor_hot_x = cu->hot_x;
		f->cursor_hot_y = cu->hot_y;
	}
	pthread_mutex_unlock(&g->lock);
	if (!f->pixels) {
		free(f);
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "frame", "out of memory");
	}
	*out = f;
	return true;
}

bool virtio_gpu_copy_frame_rect(struct virtio_gpu *g, unsigned scanout, const vmk_rect *rect, vmk_frame *into,
				vmk_error **err)
{
	if (scanout >= g->st.nscanouts)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "scanout",
				     "scanout: %u is not a scanout (the device has %u)", scanout,
				     g->st.nscanouts);
	uint32_t bw = into->width, bh = into->height, w, h;
	pthread_mutex_lock(&g->lock);
	bool vga = scanout == 0 && vga_shown(g, &w, &h);
	bool active = vga || gpu_scanout_size(&g->st, scanout, &w, &h);
	if (bw == w && bh == h) {
		uint64_t x0 = rect ? rect->x : 0, y0 = rect ? rect->y : 0;
		uint64_t x1 = rect ? x0 + rect->width : w, y1 = rect ? y0 + rect->height : h;
		x1 = x1 > w ? w : x1;
		y1 = y1 > h ? h : y1;
		if (x0 < x1 && y0 < y1) {
			if (vga)
				gpu_vga_copy_rect(&g->vga, into->pixels, into->stride, (uint32_t)x0,
						  (uint32_t)y0, (uint32_t)x1, (uint32_t)y1);
			else if (active)
				gpu_scanout_copy_rect(&g->st, scanout, into->pixels, into->stride,
						      (uint32_t)x0, (uint32_t)y0, (uint32_t)x1, (uint32_t)y1);
			else
				for (uint64_t y = y0; y < y1; y++)
					memset(into->pixels + into->stride * y + x0 * 4, 0, (x1 - x0) * 4);
		}
	}
	into->width = w;
	into->height = h;
	into->active = active;
	into->serial = g->st.scanout[scanout].serial;
	const struct gpu_cursor *cu = &g->st.cursor;
	into->cursor_visible = cu->visible && cu->scanout == scanout;
	if (into->cursor_visible) {
		into->cursor_x = cu->x;
		into->cursor_y = cu->y;
		into->cursor_hot_x = cu->hot_x;
		into->cursor_hot_y = cu->hot_y;
	}
	pthread_mutex_unlock(&g->lock);
	return true;
}

bool virtio_gpu_copy_cursor(struct virtio_gpu *g, vmk_cursor **out, vmk_error **err)
{
	vmk_cursor *c = calloc(1, sizeof(*c));
	uint32_t *px = malloc(sizeof(g->st.cursor.argb));
	if (!c || !px) {
		free(c);
		free(px);
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "cursor", "out of memory");
	}
	pthread_mutex_lock(&g->lock);
	const struct gpu_cursor *cu = &g->st.cursor;
	*c = (vmk_cursor){.visible = cu->visible,
			  .scanout = cu->scanout,
			  .x = cu->x,
			  .y = cu->y,
			  .hot_x = cu->hot_x,
			  .hot_y = cu->hot_y,
			  .width = GPU_CURSOR_SIDE,
			  .height = GPU_CURSOR_SIDE,
			  .argb = px,
			  .serial = cu->serial};
	memcpy(px, cu->argb, sizeof(cu->argb));
	pthread_mutex_unlock(&g->lock);
	*out = c;
	return true;
}

static void display_event(void *ctx)
{
	struct virtio_gpu *g = ctx;
	g->events |= GPU_EVENT_DISPLAY;
	sync_config(g);
}

bool virtio_gpu_reconfigure(struct virtio_gpu *g, unsigned scanout, uint32_t width, uint32_t height,
			    vmk_error **err)
{
	if (scanout >= g->st.nscanouts)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "scanout",
				     "scanout: %u is not a scanout (the device has %u)", scanout,
				     g->st.nscanouts);
	if (!graphics_check_size(width, height, "scanout", err))
		return false;
	pthread_mutex_lock(&g->lock);
	g->st.scanout[scanout].width = width;
	g->st.scanout[scanout].height = height;
	g->st.scanout[scanout].serial = ++g->st.serial;
	/* What the host shows keeps the guest's mode until the guest changes
	 * it, unless it shows nothing: then it is black of the new size. */
	if (!g->st.scanout[scanout].resource_id)
		gpu_damage(&g->st, scanout, (struct gpu_rect){0, 0, width, height});
	if (g->has_vga && scanout == 0)
		gpu_edid(width, height, g->st.edid_serial, g->vga.edid);
	pthread_mutex_unlock(&g->lock);
	virtio_run_locked(&g->dev, display_event, g);
	virtio_config_changed(&g->dev);
	report(g);
	return true;
}

void virtio_gpu_free(struct virtio_gpu *g)
{
	if (!g)
		return;
	g->hooks.update = NULL; /* nobody to tell any more */
	if (g->vga_tfd >= 0)
		close(g->vga_tfd); /* the I/O thread is gone: nothing watches it */
	gpu_vga_free(&g->vga);
	gpu_state_reset(&g->st);
	pthread_mutex_destroy(&g->lock);
	free(g->entries);
	free(g);
}
