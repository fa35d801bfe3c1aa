/* A window on display 0 / scanout 0 (SDL2): the guest's picture scaled to the
 * window (letterboxed), its cursor image as the window's cursor, keys (SDL
 * scancodes, which are USB HID usages, to evdev codes) and the pointer back
 * to the guest. Resizing the window asks the guest for that mode
 * (vmk_vm_reconfigure_display, as Apple's automaticallyReconfiguresDisplay);
 * closing it asks the owner to stop the VM.
 *
 * Every SDL call runs on the window's own thread; damage arrives through the
 * hub (view/damage.c) and is looked at every 10 ms or after an event. */
#include <SDL.h>
#include <linux/input-event-codes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/sdl.h"

struct sdl_view {
	vmk_vm *vm;
	struct sdl_options o;
	struct view_damage damage;
	pthread_t thread;
	atomic_bool stop;
	/* start-up handshake */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state; /* 0 starting, 1 up, -1 failed */
	char why[256];
	SDL_Window *window;
	SDL_Renderer *renderer;
	SDL_Texture *texture;
	SDL_Cursor *cursor;
	uint32_t width, height; /* the texture's, the guest's mode */
	uint64_t cursor_serial;
	bool cursor_set;
};

/* USB HID keyboard usages (SDL_Scancode) 4..231 to evdev codes. */
static uint16_t scancode_to_evdev(SDL_Scancode sc)
{
	static const uint16_t table[] = {
	    [SDL_SCANCODE_A] = KEY_A,
	    [SDL_SCANCODE_B] = KEY_B,
	    [SDL_SCANCODE_C] = KEY_C,
	    [SDL_SCANCODE_D] = KEY_D,
	    [SDL_SCANCODE_E] = KEY_E,
	    [SDL_SCANCODE_F] = KEY_F,
	    [SDL_SCANCODE_G] = KEY_G,
	    [SDL_SCANCODE_H] = KEY_H,
	    [SDL_SCANCODE_I] = KEY_I,
	    [SDL_SCANCODE_J] = KEY_J,
	    [SDL_SCANCODE_K] = KEY_K,
	    [SDL_SCANCODE_L] = KEY_L,
	    [SDL_SCANCODE_M] = KEY_M,
	    [SDL_SCANCODE_N] = KEY_N,
	    [SDL_SCANCODE_O] = KEY_O,
	    [SDL_SCANCODE_P] = KEY_P,
	    [SDL_SCANCODE_Q] = KEY_Q,
	    [SDL_SCANCODE_R] = KEY_R,
	    [SDL_SCANCODE_S] = KEY_S,
	    [SDL_SCANCODE_T] = KEY_T,
	    [SDL_SCANCODE_U] = KEY_U,
	    [SDL_SCANCODE_V] = KEY_V,
	    [SDL_SCANCODE_W] = KEY_W,
	    [SDL_SCANCODE_X] = KEY_X,
	    [SDL_SCANCODE_Y] = KEY_Y,
	    [SDL_SCANCODE_Z] = KEY_Z,
	    [SDL_SCANCODE_1] = KEY_1,
	    [SDL_SCANCODE_2] = KEY_2,
	    [SDL_SCANCODE_3] = KEY_3,
	    [SDL_SCANCODE_4] = KEY_4,
	    [SDL_SCANCODE_5] = KEY_5,
	    [SDL_SCANCODE_6] = KEY_6,
	    [SDL_SCANCODE_7] = KEY_7,
	    [SDL_SCANCODE_8] = KEY_8,
	    [SDL_SCANCODE_9] = KEY_9,
	    [SDL_SCANCODE_0] = KEY_0,
	    [SDL_SCANCODE_RETURN] = KEY_ENTER,
	    [SDL_SCANCODE_ESCAPE] = KEY_ESC,
	    [SDL_SCANCODE_BACKSPACE] = KEY_BACKSPACE,
	    [SDL_SCANCODE_TAB] = KEY_TAB,
	    [SDL_SCANCODE_SPACE] = KEY_SPACE,
	    [SDL_SCANCODE_MINUS] = KEY_MINUS,
	    [SDL_SCANCODE_EQUALS] = KEY_EQUAL,
	    [SDL_SCANCODE_LEFTBRACKET] = KEY_LEFTBRACE,
	    [SDL_SCANCODE_RIGHTBRACKET] = KEY_RIGHTBRACE,
	    [SDL_SCANCODE_BACKSLASH] = KEY_BACKSLASH,
	    [SDL_SCANCODE_NONUSHASH] = KEY_BACKSLASH,
	    [SDL_SCANCODE_SEMICOLON] = KEY_SEMICOLON,
	    [SDL_SCANCODE_APOSTROPHE] = KEY_APOSTROPHE,
	    [SDL_SCANCODE_GRAVE] = KEY_GRAVE,
	    [SDL_SCANCODE_COMMA] = KEY_COMMA,
	    [SDL_SCANCODE_PERIOD] = KEY_DOT,
	    [SDL_SCANCODE_SLASH] = KEY_SLASH,
	    [SDL_SCANCODE_CAPSLOCK] = KEY_CAPSLOCK,
	    [SDL_SCANCODE_F1] = KEY_F1,
	    [SDL_SCANCODE_F2] = KEY_F2,
	    [SDL_SCANCODE_F3] = KEY_F3,
	    [SDL_SCANCODE_F4] = KEY_F4,
	    [SDL_SCANCODE_F5] = KEY_F5,
	    [SDL_SCANCODE_F6] = KEY_F6,
	    [SDL_SCANCODE_F7] = KEY_F7,
	    [SDL_SCANCODE_F8] = KEY_F8,
	    [SDL_SCANCODE_F9] = KEY_F9,
	    [SDL_SCANCODE_F10] = KEY_F10,
	    [SDL_SCANCODE_F11] = KEY_F11,
	    [SDL_SCANCODE_F12] = KEY_F12,
	    [SDL_SCANCODE_PRINTSCREEN] = KEY_SYSRQ,
	    [SDL_SCANCODE_SCROLLLOCK] = KEY_SCROLLLOCK,
	    [SDL_SCANCODE_PAUSE] = KEY_PAUSE,
	    [SDL_SCANCODE_INSERT] = KEY_INSERT,
	    [SDL_SCANCODE_HOME] = KEY_HOME,
	    [SDL_SCANCODE_PAGEUP] = KEY_PAGEUP,
	    [SDL_SCANCODE_DELETE] = KEY_DELETE,
	    [SDL_SCANCODE_END] = KEY_END,
	    [SDL_SCANCODE_PAGEDOWN] = KEY_PAGEDOWN,
	    [SDL_SCANCODE_RIGHT] = KEY_RIGHT,
	    [SDL_SCANCODE_LEFT] = KEY_LEFT,
	    [SDL_SCANCODE_DOWN] = KEY_DOWN,
	    [SDL_SCANCODE_UP] = KEY_UP,
	    [SDL_SCANCODE_NUMLOCKCLEAR] = KEY_NUMLOCK,
	    [SDL_SCANCODE_KP_DIVIDE] = KEY_KPSLASH,
	    [SDL_SCANCODE_KP_MULTIPLY] = KEY_KPASTERISK,
	    [SDL_SCANCODE_KP_MINUS] = KEY_KPMINUS,
	    [SDL_SCANCODE_KP_PLUS] = KEY_KPPLUS,
	    [SDL_SCANCODE_KP_ENTER] = KEY_KPENTER,
	    [SDL_SCANCODE_KP_1] = KEY_KP1,
	    [SDL_SCANCODE_KP_2] = KEY_KP2,
	    [SDL_SCANCODE_KP_3] = KEY_KP3,
	    [SDL_SCANCODE_KP_4] = KEY_KP4,
	    [SDL_SCANCODE_KP_5] = KEY_KP5,
	    [SDL_SCANCODE_KP_6] = KEY_KP6,
	    [SDL_SCANCODE_KP_7] = KEY_KP7,
	    [SDL_SCANCODE_KP_8] = KEY_KP8,
	    [SDL_SCANCODE_KP_9] = KEY_KP9,
	    [SDL_SCANCODE_KP_0] = KEY_KP0,
	    [SDL_SCANCODE_KP_PERIOD] = KEY_KPDOT,
	    [SDL_SCANCODE_NONUSBACKSLASH] = KEY_102ND,
	    [SDL_SCANCODE_APPLICATION] = KEY_COMPOSE,
	    [SDL_SCANCODE_POWER] = KEY_POWER,
	    [SDL_SCANCODE_KP_EQUALS] = KEY_KPEQUAL,
	    [SDL_SCANCODE_LCTRL] = KEY_LEFTCTRL,
	    [SDL_SCANCODE_LSHIFT] = KEY_LEFTSHIFT,
	    [SDL_SCANCODE_LALT] = KEY_LEFTALT,
	    [SDL_SCANCODE_LGUI] = KEY_LEFTMETA,
	    [SDL_SCANCODE_RCTRL] = KEY_RIGHTCTRL,
	    [SDL_SCANCODE_RSHIFT] = KEY_RIGHTSHIFT,
	    [SDL_SCANCODE_RALT] = KEY_RIGHTALT,
	    [SDL_SCANCODE_RGUI] = KEY_RIGHTMETA,
	};

	return (size_t)sc < sizeof(table) / sizeof(table[0]) ? table[sc] : 0;
}

static void drop(vmk_error *err)
{
	vmk_error_free(err);
}

static bool make_texture(struct sdl_view *v, uint32_t w, uint32_t h)
{
	SDL_Texture *t = SDL_CreateTexture(v->renderer, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
					   (int)w, (int)h);

	if (!t)
		return false;
	if (v->texture)
		SDL_DestroyTexture(v->texture);
	v->texture = t;
	v->width = w;
	v->height = h;
	SDL_RenderSetLogicalSize(v->renderer, (int)w, (int)h);
	return true;
}

/* Returns true when the picture changed. */
static bool refresh_frame(struct sdl_view *v, const vmk_rect *box)
{
	vmk_error *err = NULL;
	vmk_frame *f;

	if (!vmk_vm_copy_frame(v->vm, 0, 0, &f, &err)) {
		drop(err);
		return false;
	}
	SDL_Rect r = {(int)box->x, (int)box->y, (int)box->width, (int)box->height};
	if (f->width != v->width || f->height != v->height) {
		int ww, wh;
		if (!make_texture(v, f->width, f->height)) {
			vmk_frame_free(f);
			return false;
		}
		/* Follow the guest's mode unless the window already has it (then
		 * the user asked for it by resizing). */
		SDL_GetWindowSize(v->window, &ww, &wh);
		if ((uint32_t)ww != f->width || (uint32_t)wh != f->height)
			SDL_SetWindowSize(v->window, (int)f->width, (int)f->height);
		r = (SDL_Rect){0, 0, (int)f->width, (int)f->height};
	}
	SDL_Rect all = {0, 0, (int)f->width, (int)f->height};
	if (SDL_IntersectRect(&r, &all, &r))
		SDL_UpdateTexture(v->texture, &r, f->pixels + (size_t)r.y * f->stride + (size_t)r.x * 4,
				  (int)f->stride);
	vmk_frame_free(f);
	return true;
}

static void refresh_cursor(struct sdl_view *v)
{
	vmk_error *err = NULL;
	vmk_cursor *c;

	if (!vmk_vm_copy_cursor(v->vm, 0, &c, &err)) {
		drop(err);
		return;
	}
	if (!(v->cursor_set && c->serial == v->cursor_serial)) {
		v->cursor_serial = c->serial;
		v->cursor_set = true;
		SDL_Surface *s = NULL;
		if (c->visible && c->width && c->height)
			s = SDL_CreateRGBSurfaceWithFormatFrom(c->argb, (int)c->width, (int)c->height, 32,
							       (int)c->width * 4, SDL_PIXELFORMAT_ARGB8888);
		SDL_Cursor *cur = s ? SDL_CreateColorCursor(s, (int)c->hot_x, (int)c->hot_y) : NULL;
		if (s)
			SDL_FreeSurface(s);
		if (cur) {
			SDL_SetCursor(cur);
			SDL_ShowCursor(SDL_ENABLE);
			if (v->cursor)
				SDL_FreeCursor(v->cursor);
			v->cursor = cur;
		} else {
			/* The guest shows no pointer (or only draws its own). */
			SDL_ShowCursor(c->visible ? SDL_ENABLE : SDL_DISABLE);
		}
	}
	vmk_cursor_free(c);
}

static void pointer_to(struct sdl_view *v, int x, int y)
{
	vmk_error *err = NULL;

	if (!v->o.pointer_width || !v->width || !v->height || x < 0 || y < 0)
		return;
	int64_t px = (int64_t)x * v->o.pointer_width / v->width;
	int64_t py = (int64_t)y * v->o.pointer_height / v->height;
	if (!vmk_vm_input_pointer_position(v->vm, (int32_t)px, (int32_t)py, &err))
		drop(err);
}

static void handle(struct sdl_view *v, const SDL_Event *ev)
{
	vmk_error *err = NULL;

	switch (ev->type) {
	/* SDL_QUIT follows the last window's close: that close is the one
	 * request (a second one stops the VM at once). */
	case SDL_WINDOWEVENT:
		if (ev->window.event == SDL_WINDOWEVENT_CLOSE) {
			v->o.on_close(v->o.ctx);
		} else if (ev->window.event == SDL_WINDOWEVENT_RESIZED) {
			int32_t w = ev->window.data1, h = ev->window.data2;
			if (w >= VMK_SCANOUT_MIN && h >= VMK_SCANOUT_MIN && w <= VMK_SCANOUT_MAX &&
			    h <= VMK_SCANOUT_MAX && ((uint32_t)w != v->width || (uint32_t)h != v->height) &&
			    !vmk_vm_reconfigure_display(v->vm, 0, 0, (uint32_t)w, (uint32_t)h, &err))
				drop(err);
		}
		break;
	case SDL_KEYDOWN:
	case SDL_KEYUP: {
		uint16_t code = scancode_to_evdev(ev->key.keysym.scancode);
		/* The guest repeats keys itself. */
		if (code && !ev->key.repeat && !vmk_vm_input_key(v->vm, code, ev->type == SDL_KEYDOWN, &err))
			drop(err);
		break;
	}
	case SDL_MOUSEMOTION:
		pointer_to(v, ev->motion.x, ev->motion.y);
		break;
	case SDL_MOUSEBUTTONDOWN:
	case SDL_MOUSEBUTTONUP: {
		static const int map[] = {
		    [SDL_BUTTON_LEFT] = VMK_BUTTON_LEFT,   [SDL_BUTTON_MIDDLE] = VMK_BUTTON_MIDDLE,
		    [SDL_BUTTON_RIGHT] = VMK_BUTTON_RIGHT, [SDL_BUTTON_X1] = VMK_BUTTON_SIDE,
		    [SDL_BUTTON_X2] = VMK_BUTTON_EXTRA,
		};
		if (ev->button.button >= 1 && ev->button.button <= SDL_BUTTON_X2) {
			pointer_to(v, ev->button.x, ev->button.y);
			if (!vmk_vm_input_button(v->vm, (vmk_input_button)map[ev->button.button],
						 ev->type == SDL_MOUSEBUTTONDOWN, &err))
				drop(err);
		}
		break;
	}
	case SDL_MOUSEWHEEL: {
		int32_t y = ev->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -ev->wheel.y : ev->wheel.y;
		if (y && !vmk_vm_input_wheel(v->vm, y, &err))
			drop(err);
		break;
	}
	default:
		break;
	}
}

static void started(struct sdl_view *v, int state)
{
	pthread_mutex_lock(&v->lock);
	v->state = state;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

static void *run(void *arg)
{
	struct sdl_view *v = arg;
	bool redraw = true;

	/* Signals belong to the vmkit command (its signalfd). */
	SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
	/* Only a desktop's display: SDL would otherwise fall back to drivers
	 * that show nothing to anyone (KMS/DRM on a console, offscreen). The
	 * user's SDL_VIDEODRIVER still wins. */
	const char *wl = getenv("WAYLAND_DISPLAY"), *x = getenv("DISPLAY");
	SDL_SetHint(SDL_HINT_VIDEODRIVER, wl && *wl ? "wayland,x11" : "x11");
	if (SDL_Init(SDL_INIT_VIDEO) != 0) {
		snprintf(v->why, sizeof(v->why), "cannot open a window (DISPLAY=%s WAYLAND_DISPLAY=%s): %s",
			 x ? x : "", wl ? wl : "", SDL_GetError());
		started(v, -1);
		return NULL;
	}
	v->window = SDL_CreateWindow("vmkit", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
				     (int)v->o.width, (int)v->o.height, SDL_WINDOW_RESIZABLE);
	v->renderer = v->window ? SDL_CreateRenderer(v->window, -1, 0) : NULL;
	if (!v->renderer || !make_texture(v, v->o.width, v->o.height)) {
		snprintf(v->why, sizeof(v->why), "cannot open a window: %s", SDL_GetError());
		goto out;
	}
	started(v, 1);
	view_damage_all(&v->damage);
	while (!atomic_load(&v->stop)) {
		SDL_Event ev;
		if (SDL_WaitEventTimeout(&ev, 10)) {
			do {
				handle(v, &ev);
				if (ev.type == SDL_WINDOWEVENT)
					redraw = true;
			} while (SDL_PollEvent(&ev));
		}
		vmk_rect box;
		bool cursor;
		if (view_damage_take(&v->damage, &box, &cursor)) {
			if (box.width && box.height)
				redraw |= refresh_frame(v, &box);
			if (cursor)
				refresh_cursor(v);
		}
		if (redraw) {
			SDL_SetRenderDrawColor(v->renderer, 0, 0, 0, 255);
			SDL_RenderClear(v->renderer);
			SDL_RenderCopy(v->renderer, v->texture, NULL, NULL);
			SDL_RenderPresent(v->renderer);
			redraw = false;
		}
	}
out:
	if (v->state == 0)
		started(v, -1);
	if (v->cursor)
		SDL_FreeCursor(v->cursor);
	if (v->texture)
		SDL_DestroyTexture(v->texture);
	if (v->renderer)
		SDL_DestroyRenderer(v->renderer);
	if (v->window)
		SDL_DestroyWindow(v->window);
	SDL_Quit();
	return NULL;
}

struct sdl_view *sdl_start(vmk_vm *vm, struct view_hub *hub, const struct sdl_options *o, char *why, size_t n)
{
	struct sdl_view *v = calloc(1, sizeof(*v));

	if (!v) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	if (hub->count == VIEW_MAX) {
		snprintf(why, n, "too many views");
		free(v);
		return NULL;
	}
	v->vm = vm;
	v->o = *o;
	view_damage_init(&v->damage);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	if (pthread_create(&v->thread, NULL, run, v) != 0) {
		snprintf(why, n, "cannot start the window's thread");
		goto fail;
	}
	pthread_mutex_lock(&v->lock);
	while (v->state == 0)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	if (v->state < 0) {
		pthread_join(v->thread, NULL);
		snprintf(why, n, "%s", v->why);
		goto fail;
	}
	view_hub_add(hub, &v->damage);
	return v;
fail:
	view_damage_destroy(&v->damage);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
	return NULL;
}

void sdl_stop(struct sdl_view *v)
{
	if (!v)
		return;
	atomic_store(&v->stop, true);
	pthread_join(v->thread, NULL);
	view_damage_destroy(&v->damage);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
}
