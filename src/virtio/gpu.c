/* virtio-gpu (virtio 1.2 §5.7), 2D: the device around the engine in
 * gpu_res.c. Requests are parsed (gpu_cmd.c) and executed on the I/O
 * thread, at most GPU_BUDGET per turn so a guest that keeps the queue full
 * cannot hold the thread; the host copies frames out under the same lock
 * from any thread. A display reconfigure changes a scanout's size and tells
 * the driver with a display event (config interrupt). */
#include "util/error_priv.h"
#include "virtio/devices.h"
#include "virtio/gpu_res.h"
#include <endian.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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
	if (hooks)
		g->hooks = *hooks;
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
	f->active = gpu_scanout_size(&g->st, scanout, &f->width, &f->height);
	f->stride = f->width * 4;
	/* calloc: an inactive scanout is black. */
	f->pixels = calloc((size_t)f->height, f->stride);
	if (f->pixels && f->active)
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
	gpu_state_reset(&g->st);
	pthread_mutex_destroy(&g->lock);
	free(g->entries);
	free(g);
}
