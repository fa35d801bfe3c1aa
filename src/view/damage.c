/* Display damage handed from the VM's thread to the views' threads: the
 * display callback only grows a box under a mutex; each view takes it when it
 * next looks (vmk_vm_* must not be called from the callback). */
#include "view/view.h"

void view_damage_init(struct view_damage *d)
{
	*d = (struct view_damage){0};
	pthread_mutex_init(&d->lock, NULL);
}

void view_damage_destroy(struct view_damage *d)
{
	pthread_mutex_destroy(&d->lock);
}

static void grow(struct view_damage *d, uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1)
{
	if (!d->dirty) {
		d->x0 = x0, d->y0 = y0, d->x1 = x1, d->y1 = y1;
		d->dirty = true;
		return;
	}
	d->x0 = x0 < d->x0 ? x0 : d->x0;
	d->y0 = y0 < d->y0 ? y0 : d->y0;
	d->x1 = x1 > d->x1 ? x1 : d->x1;
	d->y1 = y1 > d->y1 ? y1 : d->y1;
}

void view_damage_all(struct view_damage *d)
{
	pthread_mutex_lock(&d->lock);
	grow(d, 0, 0, UINT32_MAX, UINT32_MAX);
	d->cursor = true;
	pthread_mutex_unlock(&d->lock);
}

bool view_damage_take(struct view_damage *d, vmk_rect *box, bool *cursor)
{
	pthread_mutex_lock(&d->lock);
	bool any = d->dirty || d->cursor;
	*box = d->dirty ? (vmk_rect){d->x0, d->y0, d->x1 - d->x0, d->y1 - d->y0} : (vmk_rect){0};
	*cursor = d->cursor;
	d->dirty = d->cursor = false;
	pthread_mutex_unlock(&d->lock);
	return any;
}

static void on_display(vmk_vm *vm, unsigned device, unsigned scanout, const vmk_rect *damage, void *ctx)
{
	struct view_hub *hub = ctx;

	(void)vm;
	if (device != 0 || scanout != 0)
		return;
	for (size_t i = 0; i < hub->count; i++) {
		struct view_damage *d = hub->views[i];
		pthread_mutex_lock(&d->lock);
		if (damage && damage->width && damage->height) {
			uint64_t x1 = (uint64_t)damage->x + damage->width,
				 y1 = (uint64_t)damage->y + damage->height;
			grow(d, damage->x, damage->y, x1 > UINT32_MAX ? UINT32_MAX : (uint32_t)x1,
			     y1 > UINT32_MAX ? UINT32_MAX : (uint32_t)y1);
		} else if (!damage) {
			d->cursor = true;
		}
		pthread_mutex_unlock(&d->lock);
	}
}

void view_hub_init(struct view_hub *hub, vmk_vm *vm)
{
	*hub = (struct view_hub){.vm = vm};
}

bool view_hub_add(struct view_hub *hub, struct view_damage *d)
{
	if (hub->count == VIEW_MAX)
		return false;
	hub->views[hub->count++] = d;
	if (hub->count == 1)
		vmk_vm_set_display_callback(hub->vm, on_display, hub);
	return true;
}

void view_hub_stop(struct view_hub *hub)
{
	if (hub->count)
		vmk_vm_set_display_callback(hub->vm, NULL, NULL);
	hub->count = 0;
}
