/* virtio-gpu 2D resources (virtio 1.2 §5.7.6.8): host images the guest
 * creates, backs with lists of guest pages, fills by transfers and shows on
 * scanouts. Every guest value is checked here: ids, formats, sizes (each
 * side and the total against the device's memory cap), backing entries
 * (inside RAM, counted against the cap), rectangles (inside the resource,
 * in 64-bit arithmetic) and transfer offsets (clipped to the backing). */
#include "virtio/gpu_res.h"
#include <endian.h>
#include <stdlib.h>
#include <string.h>

struct gpu_resource {
	uint32_t id, format, width, height;
	uint8_t *data; /* width * height * 4 bytes */
	struct iovec *backing;
	uint64_t *start; /* start[i]: where entry i begins in the backing */
	uint32_t nbacking;
	uint64_t backing_len;
	uint64_t cost; /* bytes counted against the cap */
	struct gpu_resource *next;
};

void gpu_state_init(struct gpu_state *s, const struct gmem *mem, uint64_t limit, unsigned nscanouts,
		    const uint32_t *width, const uint32_t *height)
{
	memset(s, 0, sizeof(*s));
	s->mem = mem;
	s->limit = limit;
	s->nscanouts = nscanouts > GPU_MAX_SCANOUTS ? GPU_MAX_SCANOUTS : nscanouts;
	for (unsigned i = 0; i < s->nscanouts; i++) {
		s->scanout[i].width = width[i];
		s->scanout[i].height = height[i];
	}
}

void gpu_damage(struct gpu_state *s, unsigned i, struct gpu_rect r)
{
	if (!r.width || !r.height)
		return;
	struct gpu_rect *d = &s->damage[i];
	if (!s->damaged[i]) {
		*d = r;
		s->damaged[i] = true;
		return;
	}
	uint64_t x1 = d->x < r.x ? d->x : r.x, y1 = d->y < r.y ? d->y : r.y;
	uint64_t x2 = (uint64_t)d->x + d->width > (uint64_t)r.x + r.width ? (uint64_t)d->x + d->width
									  : (uint64_t)r.x + r.width;
	uint64_t y2 = (uint64_t)d->y + d->height > (uint64_t)r.y + r.height ? (uint64_t)d->y + d->height
									    : (uint64_t)r.y + r.height;
	*d = (struct gpu_rect){(uint32_t)x1, (uint32_t)y1, (uint32_t)(x2 - x1), (uint32_t)(y2 - y1)};
}

/* The whole of what scanout i shows now. */
static void damage_all(struct gpu_state *s, unsigned i)
{
	struct gpu_scanout *so = &s->scanout[i];
	if (so->resource_id)
		gpu_damage(s, i, (struct gpu_rect){0, 0, so->r.width, so->r.height});
	else
		gpu_damage(s, i, (struct gpu_rect){0, 0, so->width, so->height});
}

static struct gpu_resource **slot(struct gpu_state *s, uint32_t id)
{
	struct gpu_resource **p = &s->bucket[id % GPU_RES_BUCKETS];
	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

static struct gpu_resource *find(struct gpu_state *s, uint32_t id)
{
	return id ? *slot(s, id) : NULL;
}

static void detach(struct gpu_state *s, struct gpu_resource *r)
{
	uint64_t c = (uint64_t)r->nbacking * (sizeof(struct iovec) + sizeof(uint64_t));
	free(r->backing);
	free(r->start);
	r->backing = NULL;
	r->start = NULL;
	r->nbacking = 0;
	r->backing_len = 0;
	r->cost -= c;
	s->used -= c;
}

static void destroy(struct gpu_state *s, uint32_t id)
{
	struct gpu_resource **p = slot(s, id), *r = *p;
	if (!r)
		return;
	detach(s, r);
	*p = r->next;
	s->used -= r->cost;
	s->nresources--;
	for (unsigned i = 0; i < s->nscanouts; i++)
		if (s->scanout[i].resource_id == id) {
			s->scanout[i].resource_id = 0;
			s->scanout[i].serial = ++s->serial;
			damage_all(s, i);
		}
	free(r->data);
	free(r);
}

void gpu_state_reset(struct gpu_state *s)
{
	for (unsigned b = 0; b < GPU_RES_BUCKETS; b++)
		while (s->bucket[b])
			destroy(s, s->bucket[b]->id);
	for (unsigned i = 0; i < s->nscanouts; i++) {
		s->scanout[i].resource_id = 0;
		s->scanout[i].serial = ++s->serial;
		damage_all(s, i);
	}
	if (s->cursor.visible) {
		s->cursor.visible = false;
		s->cursor.serial = ++s->serial;
		s->cursor_changed = true;
	}
}

static bool known_format(uint32_t f)
{
	switch (f) {
	case GPU_FORMAT_B8G8R8A8:
	case GPU_FORMAT_B8G8R8X8:
	case GPU_FORMAT_A8R8G8B8:
	case GPU_FORMAT_X8R8G8B8:
	case GPU_FORMAT_R8G8B8A8:
	case GPU_FORMAT_X8B8G8R8:
	case GPU_FORMAT_A8B8G8R8:
	case GPU_FORMAT_R8G8B8X8:
		return true;
	}
	return false;
}

static uint32_t create_2d(struct gpu_state *s, const struct gpu_cmd *c)
{
	if (!c->resource_id || find(s, c->resource_id))
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!known_format(c->format) || !c->width || !c->height || c->width > GPU_RES_MAX_SIDE ||
	    c->height > GPU_RES_MAX_SIDE)
		return GPU_RESP_ERR_INVALID_PARAMETER;
	uint64_t bytes = (uint64_t)c->width * c->height * 4;
	uint64_t cost = bytes + sizeof(struct gpu_resource);
	if (s->nresources >= GPU_MAX_RESOURCES || cost > s->limit - s->used)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	struct gpu_resource *r = calloc(1, sizeof(*r));
	if (!r || !(r->data = calloc(1, bytes))) {
		free(r);
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	r->id = c->resource_id;
	r->format = c->format;
	r->width = c->width;
	r->height = c->height;
	r->cost = cost;
	s->used += cost;
	s->nresources++;
	struct gpu_resource **p = slot(s, r->id);
	*p = r;
	return GPU_RESP_OK_NODATA;
}

static uint32_t attach(struct gpu_state *s, const struct gpu_cmd *c, const struct gpu_mem_entry *e)
{
	struct gpu_resource *r = find(s, c->resource_id);
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (r->backing || !c->nr_entries)
		return GPU_RESP_ERR_UNSPEC;
	uint64_t cost = (uint64_t)c->nr_entries * (sizeof(struct iovec) + sizeof(uint64_t));
	if (cost > s->limit - s->used)
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	struct iovec *iov = calloc(c->nr_entries, sizeof(*iov));
	uint64_t *start = calloc(c->nr_entries, sizeof(*start));
	if (!iov || !start) {
		free(iov);
		free(start);
		return GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	uint64_t total = 0;
	for (uint32_t i = 0; i < c->nr_entries; i++) {
		void *p = gmem_ptr(s->mem, e[i].addr, e[i].length);
		if (!p && e[i].length) {
			free(iov);
			free(start);
			return GPU_RESP_ERR_UNSPEC; /* outside guest RAM */
		}
		iov[i] = (struct iovec){p, e[i].length};
		start[i] = total;
		total += e[i].length;
	}
	r->backing = iov;
	r->start = start;
	r->nbacking = c->nr_entries;
	r->backing_len = total;
	r->cost += cost;
	s->used += cost;
	return GPU_RESP_OK_NODATA;
}

/* Copies len bytes at backing offset off to dst; what lies beyond the
 * backing is left as it was. */
static void from_backing(const struct gpu_resource *r, uint64_t off, uint8_t *dst, uint64_t len)
{
	if (off >= r->backing_len)
		return;
	if (len > r->backing_len - off)
		len = r->backing_len - off;
	/* The last entry starting at or before off. */
	uint32_t lo = 0, hi = r->nbacking - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		if (r->start[mid] <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	for (uint32_t i = lo; len && i < r->nbacking; i++) {
		uint64_t in = off - r->start[i];
		if (in >= r->backing[i].iov_len)
			continue; /* an empty entry */
		uint64_t n = r->backing[i].iov_len - in;
		if (n > len)
			n = len;
		memcpy(dst, (uint8_t *)r->backing[i].iov_base + in, n);
		dst += n;
		off += n;
		len -= n;
	}
}

static bool rect_inside(const struct gpu_rect *rc, uint32_t w, uint32_t h)
{
	return (uint64_t)rc->x + rc->width <= w && (uint64_t)rc->y + rc->height <= h;
}

static uint32_t transfer(struct gpu_state *s, const struct gpu_cmd *c)
{
	struct gpu_resource *r = find(s, c->resource_id);
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->backing)
		return GPU_RESP_ERR_UNSPEC;
	if (!rect_inside(&c->r, r->width, r->height))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	uint64_t stride = (uint64_t)r->width * 4, row = (uint64_t)c->r.width * 4;
	if (c->r.x == 0 && c->r.width == r->width) {
		/* Whole rows: one copy. */
		from_backing(r, c->offset, r->data + stride * c->r.y, stride * c->r.height);
		return GPU_RESP_OK_NODATA;
	}
	for (uint32_t y = 0; y < c->r.height; y++) {
		uint64_t src = c->offset + stride * y;
		if (src < c->offset)
			break; /* wrapped: nothing more lies in the backing */
		from_backing(r, src, r->data + stride * (c->r.y + y) + (uint64_t)c->r.x * 4, row);
	}
	return GPU_RESP_OK_NODATA;
}

static uint32_t set_scanout(struct gpu_state *s, const struct gpu_cmd *c)
{
	if (c->scanout_id >= s->nscanouts)
		return GPU_RESP_ERR_INVALID_SCANOUT_ID;
	struct gpu_scanout *so = &s->scanout[c->scanout_id];
	if (!c->resource_id || !c->r.width || !c->r.height) {
		so->resource_id = 0; /* the display is turned off */
		so->serial = ++s->serial;
		damage_all(s, c->scanout_id);
		return GPU_RESP_OK_NODATA;
	}
	struct gpu_resource *r = find(s, c->resource_id);
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!rect_inside(&c->r, r->width, r->height))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	so->resource_id = r->id;
	so->r = c->r;
	so->serial = ++s->serial;
	damage_all(s, c->scanout_id);
	return GPU_RESP_OK_NODATA;
}

static uint32_t flush(struct gpu_state *s, const struct gpu_cmd *c)
{
	struct gpu_resource *r = find(s, c->resource_id);
	if (!r)
		return GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!rect_inside(&c->r, r->width, r->height))
		return GPU_RESP_ERR_INVALID_PARAMETER;
	for (unsigned i = 0; i < s->nscanouts; i++) {
		struct gpu_scanout *so = &s->scanout[i];
		if (so->resource_id != r->id)
			continue;
		/* The flushed part of what the scanout shows, in its own pixels. */
		uint64_t x1 = c->r.x > so->r.x ? c->r.x : so->r.x, y1 = c->r.y > so->r.y ? c->r.y : so->r.y;
		uint64_t x2 = (uint64_t)c->r.x + c->r.width, y2 = (uint64_t)c->r.y + c->r.height;
		if (x2 > (uint64_t)so->r.x + so->r.width)
			x2 = (uint64_t)so->r.x + so->r.width;
		if (y2 > (uint64_t)so->r.y + so->r.height)
			y2 = (uint64_t)so->r.y + so->r.height;
		if (x1 >= x2 || y1 >= y2)
			continue;
		so->serial = ++s->serial;
		gpu_damage(s, i,
			   (struct gpu_rect){(uint32_t)(x1 - so->r.x), (uint32_t)(y1 - so->r.y),
					     (uint32_t)(x2 - x1), (uint32_t)(y2 - y1)});
	}
	return GPU_RESP_OK_NODATA;
}

/* One pixel of format f (bytes in memory) as 0xAARRGGBB. */
static uint32_t argb(uint32_t f, const uint8_t *p)
{
	switch (f) {
	case GPU_FORMAT_B8G8R8A8:
		return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
	case GPU_FORMAT_B8G8R8X8:
		return 0xff000000u | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
	case GPU_FORMAT_A8R8G8B8:
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	case GPU_FORMAT_X8R8G8B8:
		return 0xff000000u | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	case GPU_FORMAT_R8G8B8A8:
		return (uint32_t)p[3] << 24 | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	case GPU_FORMAT_X8B8G8R8:
		return 0xff000000u | (uint32_t)p[3] << 16 | (uint32_t)p[2] << 8 | p[1];
	case GPU_FORMAT_A8B8G8R8:
		return (uint32_t)p[0] << 24 | (uint32_t)p[3] << 16 | (uint32_t)p[2] << 8 | p[1];
	default: /* R8G8B8X8 */
		return 0xff000000u | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	}
}

static void cursor(struct gpu_state *s, const struct gpu_cmd *c)
{
	struct gpu_cursor *cu = &s->cursor;

	if (c->scanout_id >= s->nscanouts)
		return; /* the cursor queue has no error replies: ignored */
	cu->scanout = c->scanout_id;
	cu->x = c->x;
	cu->y = c->y;
	cu->serial = ++s->serial;
	s->cursor_changed = true;
	if (c->type == GPU_CMD_MOVE_CURSOR)
		return;
	struct gpu_resource *r = find(s, c->resource_id);
	if (!r || r->width != GPU_CURSOR_SIDE || r->height != GPU_CURSOR_SIDE) {
		cu->visible = false; /* resource 0 hides it; anything else is not a cursor */
		return;
	}
	/* The image is taken now: later changes to the resource need a new update. */
	for (unsigned i = 0; i < GPU_CURSOR_SIDE * GPU_CURSOR_SIDE; i++)
		cu->argb[i] = argb(r->format, r->data + 4ull * i);
	cu->hot_x = c->hot_x < GPU_CURSOR_SIDE ? c->hot_x : 0;
	cu->hot_y = c->hot_y < GPU_CURSOR_SIDE ? c->hot_y : 0;
	cu->visible = true;
}

size_t gpu_exec(struct gpu_state *s, const struct gpu_cmd *c, const struct gpu_mem_entry *entries, void *resp)
{
	uint32_t type = GPU_RESP_ERR_UNSPEC;

	switch (c->type) {
	case GPU_CMD_GET_DISPLAY_INFO: {
		struct gpu_resp_display_info *d = resp;
		memset(d, 0, sizeof(*d));
		gpu_resp_hdr(c, GPU_RESP_OK_DISPLAY_INFO, &d->hdr);
		for (unsigned i = 0; i < s->nscanouts; i++) {
			d->pmodes[i].r.width = htole32(s->scanout[i].width);
			d->pmodes[i].r.height = htole32(s->scanout[i].height);
			d->pmodes[i].enabled = htole32(1);
		}
		return sizeof(*d);
	}
	case GPU_CMD_GET_EDID: {
		if (!s->edid)
			break;
		if (c->scanout_id >= s->nscanouts) {
			type = GPU_RESP_ERR_INVALID_SCANOUT_ID;
			break;
		}
		struct gpu_resp_edid *e = resp;
		uint8_t blk[256];
		memset(e, 0, sizeof(*e));
		gpu_resp_hdr(c, GPU_RESP_OK_EDID, &e->hdr);
		size_t n = gpu_edid(s->scanout[c->scanout_id].width, s->scanout[c->scanout_id].height,
				    s->edid_serial + c->scanout_id, blk);
		memcpy(e->edid, blk, n);
		e->size = htole32((uint32_t)n);
		return sizeof(*e);
	}
	case GPU_CMD_RESOURCE_CREATE_2D:
		type = create_2d(s, c);
		break;
	case GPU_CMD_RESOURCE_UNREF:
		type = find(s, c->resource_id) ? GPU_RESP_OK_NODATA : GPU_RESP_ERR_INVALID_RESOURCE_ID;
		destroy(s, c->resource_id);
		break;
	case GPU_CMD_RESOURCE_ATTACH_BACKING:
		type = attach(s, c, entries);
		break;
	case GPU_CMD_RESOURCE_DETACH_BACKING: {
		struct gpu_resource *r = find(s, c->resource_id);
		type = !r	     ? GPU_RESP_ERR_INVALID_RESOURCE_ID
		       : !r->backing ? GPU_RESP_ERR_UNSPEC
				     : GPU_RESP_OK_NODATA;
		if (r && r->backing)
			detach(s, r);
		break;
	}
	case GPU_CMD_TRANSFER_TO_HOST_2D:
		type = transfer(s, c);
		break;
	case GPU_CMD_SET_SCANOUT:
		type = set_scanout(s, c);
		break;
	case GPU_CMD_RESOURCE_FLUSH:
		type = flush(s, c);
		break;
	case GPU_CMD_GET_CAPSET_INFO:
	case GPU_CMD_GET_CAPSET:
		type = GPU_RESP_ERR_INVALID_PARAMETER; /* no 3D: no capability sets */
		break;
	case GPU_CMD_UPDATE_CURSOR:
	case GPU_CMD_MOVE_CURSOR:
		cursor(s, c);
		return 0;
	}
	gpu_resp_hdr(c, type, resp);
	return sizeof(struct gpu_ctrl_hdr);
}

bool gpu_scanout_size(struct gpu_state *s, unsigned i, uint32_t *w, uint32_t *h)
{
	struct gpu_scanout *so = &s->scanout[i];
	if (!so->resource_id || !find(s, so->resource_id)) {
		*w = so->width;
		*h = so->height;
		return false;
	}
	*w = so->r.width;
	*h = so->r.height;
	return true;
}

void gpu_scanout_copy(struct gpu_state *s, unsigned i, uint8_t *out)
{
	struct gpu_scanout *so = &s->scanout[i];
	gpu_scanout_copy_rect(s, i, out, (uint64_t)so->r.width * 4, 0, 0, so->r.width, so->r.height);
}

void gpu_scanout_copy_rect(struct gpu_state *s, unsigned i, uint8_t *out, uint64_t out_stride, uint32_t x0,
			   uint32_t y0, uint32_t x1, uint32_t y1)
{
	struct gpu_scanout *so = &s->scanout[i];
	struct gpu_resource *r = find(s, so->resource_id);
	uint64_t stride = (uint64_t)r->width * 4;

	for (uint32_t y = y0; y < y1; y++) {
		const uint8_t *src = r->data + stride * (so->r.y + y) + (uint64_t)(so->r.x + x0) * 4;
		uint8_t *dst = out + out_stride * y + (uint64_t)x0 * 4;
		if (r->format == GPU_FORMAT_B8G8R8X8 || r->format == GPU_FORMAT_B8G8R8A8) {
			memcpy(dst, src, (size_t)(x1 - x0) * 4);
			continue;
		}
		for (uint32_t x = 0; x < x1 - x0; x++) {
			uint32_t v = htole32(argb(r->format, src + 4ull * x) & 0xffffff);
			memcpy(dst + 4ull * x, &v, 4);
		}
	}
}
