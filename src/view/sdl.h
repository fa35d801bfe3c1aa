/* The VM's first display in a window (SDL2): vmkit --gui. */
#ifndef VMK_VIEW_SDL_H
#define VMK_VIEW_SDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/vmkit.h>

#include "view/view.h"

struct sdl_options {
	uint32_t width, height;			/* the display's configured size */
	uint32_t pointer_width, pointer_height; /* the screen pointer's screen; 0: none */
	/* The user closed the window; runs on the window's thread. */
	void (*on_close)(void *ctx);
	void *ctx;
};

struct sdl_view;

/* Opens the window on its own thread and waits until it is up (before the VM
 * starts). NULL with why when there is no display to open it on. */
struct sdl_view *sdl_start(vmk_vm *vm, struct view_hub *hub, const struct sdl_options *o, char *why,
			   size_t n);
/* After view_hub_stop(). */
void sdl_stop(struct sdl_view *v);

#endif
