/* What the views (vnc.c, web.c, sdl.c) share: listening addresses, the
 * hand-over of display damage from the VM's thread to a view's thread, and
 * key code tables. Views use only the public API (<vmkit/...>). */
#ifndef VMK_VIEW_H
#define VMK_VIEW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/vmkit.h>

/* --- listen.c --- */
/* ADDR is HOST:PORT ([V6]:PORT for IPv6) or unix:PATH. A TCP address must be
 * loopback unless allow_remote. Checks ADDR without binding. */
bool view_addr_check(const char *addr, bool allow_remote, char *why, size_t n);
/* A listening socket on ADDR (non-blocking, close-on-exec), or -1 with why. */
int view_listen(const char *addr, bool allow_remote, char *why, size_t n);
/* Removes a unix socket ADDR made by view_listen (no-op for TCP). */
void view_unlisten(const char *addr);

/* --- damage.c --- */
/* What changed on display 0 / scanout 0 since a view last looked: the
 * bounding box of the damage, and whether the cursor changed. */
struct view_damage {
	pthread_mutex_t lock;
	bool dirty, cursor;
	uint32_t x0, y0, x1, y1;
};

/* The VM's one display callback, fanned out to every view's damage. */
#define VIEW_MAX 4
struct view_hub {
	vmk_vm *vm;
	struct view_damage *views[VIEW_MAX];
	size_t count;
};

void view_damage_init(struct view_damage *d);
void view_damage_destroy(struct view_damage *d);
/* Marks the whole display changed (a view's first look). */
void view_damage_all(struct view_damage *d);
/* Takes and clears what changed: false when nothing did. box is the damage
 * (0x0 when only the cursor changed). */
bool view_damage_take(struct view_damage *d, vmk_rect *box, bool *cursor);

/* Installs the display callback on vm (before it starts). */
void view_hub_init(struct view_hub *hub, vmk_vm *vm);
/* Adds a view's damage (before the VM starts). */
bool view_hub_add(struct view_hub *hub, struct view_damage *d);
/* Removes the callback; afterwards it does not run. */
void view_hub_stop(struct view_hub *hub);

/* --- keymap.c --- */
/* The Linux evdev key code of an X keysym (VNC's key events) on a US layout,
 * 0 for none. Shifted symbols give their key (exclam -> KEY_1): the client
 * sends Shift itself. */
uint16_t view_keysym_to_evdev(uint32_t keysym);

#endif
