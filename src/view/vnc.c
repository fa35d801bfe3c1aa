/* A VNC server (RFB 3.8, Debian's libvncserver) for display 0 / scanout 0:
 * raw, hextile, zlib, tight, ZRLE..., the guest's cursor as a rich cursor,
 * desktop resize when the guest's mode changes, keys and an absolute pointer
 * back to the guest. Websocket clients (noVNC) are detected by libvncserver
 * on every socket handed to it.
 *
 * One thread owns the libvncserver screen: it accepts, runs the protocol and
 * copies frames when the display callback's damage (view/damage.c) says the
 * picture changed. Input callbacks run on it too, so vmk_vm_input_* is never
 * called on a VM thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rfb/rfb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "view/vnc.h"

struct vnc_server {
	vmk_vm *vm;
	rfbScreenInfoPtr screen;
	struct view_damage damage;
	char *listen_addr;
	int listen_fd;	/* -1: none */
	int handoff[2]; /* web.c -> here: sockets of websocket clients */
	int wake[2];	/* vnc_stop -> here */
	struct web_server *web;
	pthread_t thread;
	bool running;
	uint8_t *fb;
	uint32_t width, height;
	uint64_t cursor_serial;
	bool cursor_set;
	int buttons;
	int last_x, last_y;
	uint32_t pointer_width, pointer_height;
	char password[64];
	char *passwords[2];
};

static void quiet(const char *fmt, ...)
{
	(void)fmt;
}

static void drop(vmk_error *err)
{
	vmk_error_free(err);
}

/* The frame buffer is XRGB8888 as the guest's frames are (bytes B, G, R, X):
 * copied as is, translated by libvncserver to each client's format. */
static void set_format(rfbScreenInfoPtr sc)
{
	sc->serverFormat.redShift = 16;
	sc->serverFormat.greenShift = 8;
	sc->serverFormat.blueShift = 0;
	sc->serverFormat.redMax = sc->serverFormat.greenMax = sc->serverFormat.blueMax = 255;
}

static bool resize(struct vnc_server *s, uint32_t w, uint32_t h)
{
	uint8_t *fb = calloc((size_t)w * h, 4), *old = s->fb;

	if (!fb)
		return false;
	s->fb = fb;
	s->width = w;
	s->height = h;
	rfbNewFramebuffer(s->screen, (char *)fb, (int)w, (int)h, 8, 3, 4);
	set_format(s->screen);
	free(old);
	return true;
}

/* Only the damage, straight into the screen's frame buffer (this thread owns
 * it): no frame-sized allocation and no second copy per update. */
static bool copy_into_fb(struct vnc_server *s, const vmk_rect *box, vmk_frame *f)
{
	vmk_error *err = NULL;

	*f = (vmk_frame){.width = s->width, .height = s->height, .stride = s->width * 4, .pixels = s->fb};
	if (!vmk_vm_copy_frame_rect(s->vm, 0, 0, box, f, &err)) {
		drop(err);
		return false;
	}
	return true;
}

static void refresh_frame(struct vnc_server *s, const vmk_rect *box)
{
	vmk_frame f;

	if (!copy_into_fb(s, box, &f))
		return;
	bool full = false;
	if (f.width != s->width || f.height != s->height) {
		/* A new mode: a new buffer, all of it copied (the size can change
		 * again meanwhile; its damage then brings this back). */
		if (!resize(s, f.width, f.height) || !copy_into_fb(s, NULL, &f) || f.width != s->width ||
		    f.height != s->height)
			return;
		full = true;
	}
	uint32_t x0 = full ? 0 : box->x, y0 = full ? 0 : box->y;
	uint64_t x1 = full ? f.width : (uint64_t)box->x + box->width;
	uint64_t y1 = full ? f.height : (uint64_t)box->y + box->height;
	x1 = x1 > f.width ? f.width : x1;
	y1 = y1 > f.height ? f.height : y1;
	if (x0 < x1 && y0 < y1)
		rfbMarkRectAsModified(s->screen, (int)x0, (int)y0, (int)x1, (int)y1);
}

/* The guest's cursor image as a rich cursor (clients draw it themselves;
 * libvncserver draws it into the picture for those that cannot). */
static void refresh_cursor(struct vnc_server *s)
{
	vmk_error *err = NULL;
	vmk_cursor *c;

	if (!vmk_vm_copy_cursor(s->vm, 0, &c, &err)) {
		drop(err);
		return;
	}
	if (s->cursor_set && c->serial == s->cursor_serial) {
		vmk_cursor_free(c);
		return;
	}
	s->cursor_serial = c->serial;
	s->cursor_set = true;
	uint32_t w = c->visible && c->width ? c->width : 1, h = c->visible && c->height ? c->height : 1;
	size_t row = (w + 7) / 8;
	rfbCursorPtr rc = calloc(1, sizeof(*rc));
	if (!rc) {
		vmk_cursor_free(c);
		return;
	}
	rc->source = calloc(row * h, 1);
	rc->mask = calloc(row * h, 1);
	rc->richSource = calloc((size_t)w * h, 4);
	if (!rc->source || !rc->mask || !rc->richSource) {
		free(rc->source);
		free(rc->mask);
		free(rc->richSource);
		free(rc);
		vmk_cursor_free(c);
		return;
	}
	rc->cleanup = rc->cleanupSource = rc->cleanupMask = rc->cleanupRichSource = TRUE;
	rc->width = (unsigned short)w;
	rc->height = (unsigned short)h;
	rc->foreRed = rc->foreGreen = rc->foreBlue = 0xffff;
	if (c->visible && c->width) {
		rc->xhot = (unsigned short)(c->hot_x < w ? c->hot_x : 0);
		rc->yhot = (unsigned short)(c->hot_y < h ? c->hot_y : 0);
		for (uint32_t y = 0; y < h; y++)
			for (uint32_t x = 0; x < w; x++) {
				uint32_t p = c->argb[(size_t)y * w + x];
				memcpy(rc->richSource + ((size_t)y * w + x) * 4, &(uint32_t){p & 0xffffff},
				       4);
				if (p >> 24 >= 0x80) {
					rc->mask[y * row + x / 8] |= (unsigned char)(0x80 >> (x % 8));
					rc->source[y * row + x / 8] |= (unsigned char)(0x80 >> (x % 8));
				}
			}
	}
	vmk_cursor_free(c);
	rfbSetCursor(s->screen, rc);
}

static void refresh(struct vnc_server *s)
{
	vmk_rect box;
	bool cursor;

	if (!view_damage_take(&s->damage, &box, &cursor))
		return;
	if (box.width && box.height)
		refresh_frame(s, &box);
	if (cursor)
		refresh_cursor(s);
}

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc_server *s = cl->screen->screenData;
	uint16_t code = view_keysym_to_evdev(keysym);
	vmk_error *err = NULL;

	if (code && !vmk_vm_input_key(s->vm, code, down, &err))
		drop(err);
}

static const struct {
	int mask;
	vmk_input_button button;
} buttons[] = {
    {1 << 0, VMK_BUTTON_LEFT}, {1 << 1, VMK_BUTTON_MIDDLE}, {1 << 2, VMK_BUTTON_RIGHT},
    {1 << 7, VMK_BUTTON_SIDE}, {1 << 8, VMK_BUTTON_EXTRA},
};

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc_server *s = cl->screen->screenData;
	vmk_error *err = NULL;

	if (x != s->last_x || y != s->last_y) {
		if (s->pointer_width && s->width && s->height) {
			int64_t px = (int64_t)x * s->pointer_width / s->width;
			int64_t py = (int64_t)y * s->pointer_height / s->height;
			if (!vmk_vm_input_pointer_position(s->vm, (int32_t)px, (int32_t)py, &err))
				drop(err), err = NULL;
		} else if (!vmk_vm_input_pointer_motion(s->vm, x - s->last_x, y - s->last_y, &err)) {
			drop(err), err = NULL;
		}
		s->last_x = x;
		s->last_y = y;
		cl->screen->cursorX = x;
		cl->screen->cursorY = y;
	}
	for (size_t i = 0; i < sizeof(buttons) / sizeof(buttons[0]); i++)
		if ((mask ^ s->buttons) & buttons[i].mask &&
		    !vmk_vm_input_button(s->vm, buttons[i].button, mask & buttons[i].mask, &err))
			drop(err), err = NULL;
	/* Buttons 4 and 5 are the wheel: one click per press. */
	if (mask & ~s->buttons & (1 << 3) && !vmk_vm_input_wheel(s->vm, 1, &err))
		drop(err), err = NULL;
	if (mask & ~s->buttons & (1 << 4) && !vmk_vm_input_wheel(s->vm, -1, &err))
		drop(err), err = NULL;
	s->buttons = mask;
}

/* Without clients the picture is not copied at all: a new client first
 * brings the frame buffer up to date (size included, for its ServerInit). */
static void add_client(struct vnc_server *s, int fd)
{
	if (!s->screen->clientHead) {
		view_damage_all(&s->damage);
		refresh(s);
	}
	rfbNewClient(s->screen, fd);
}

/* libvncserver 0.9.14 allocates a websocket client's framing context and
 * never frees it (about 45 KiB per browser connection): freed here, as the
 * client goes; the library's own teardown comes after this hook. */
static void on_client_gone(rfbClientPtr cl)
{
	free(cl->wsctx);
	cl->wsctx = NULL;
}

static enum rfbNewClientAction on_new_client(rfbClientPtr cl)
{
	cl->clientGoneHook = on_client_gone;
	return RFB_CLIENT_ACCEPT;
}

/* A client asks for a desktop size (ExtendedDesktopSize: noVNC's "remote
 * resizing"): the guest is asked for that mode, as a window resize does; the
 * frame buffer follows when the guest switches. */
static int on_set_size(int w, int h, int screens, struct rfbExtDesktopScreen *layout, rfbClientPtr cl)
{
	struct vnc_server *s = cl->screen->screenData;
	vmk_error *err = NULL;

	(void)screens;
	(void)layout;
	if (w < VMK_SCANOUT_MIN || h < VMK_SCANOUT_MIN || w > VMK_SCANOUT_MAX || h > VMK_SCANOUT_MAX)
		return rfbExtDesktopSize_InvalidScreenLayout;
	if (!vmk_vm_reconfigure_display(s->vm, 0, 0, (uint32_t)w, (uint32_t)h, &err)) {
		drop(err);
		return rfbExtDesktopSize_ResizeProhibited;
	}
	return rfbExtDesktopSize_Success;
}

/* An RFB client waits for the server's greeting; one that speaks first is
 * a browser (libvncserver would take its websocket on any socket, and any
 * web page may open one to a loopback port) or something else that is not
 * VNC. Browsers come through --web, which checks their origin. */
static bool speaks_first(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 100) != 0;
}

static void accept_all(struct vnc_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (speaks_first(fd))
			close(fd);
		else
			add_client(s, fd);
	}
}

static void take_handoffs(struct vnc_server *s)
{
	int fd;

	while (read(s->handoff[0], &fd, sizeof(fd)) == sizeof(fd))
		add_client(s, fd);
}

/* The web server's thread hands websocket sockets over through a pipe:
 * libvncserver's state belongs to this server's thread. */
static void hand_over(int fd, void *ctx)
{
	struct vnc_server *s = ctx;

	if (write(s->handoff[1], &fd, sizeof(fd)) != sizeof(fd))
		close(fd);
}

static void *run(void *arg)
{
	struct vnc_server *s = arg;

	pthread_setname_np(pthread_self(), "vmk-vnc");
	for (;;) {
		struct pollfd p[3] = {
		    {.fd = s->wake[0], .events = POLLIN},
		    {.fd = s->listen_fd, .events = POLLIN},
		    {.fd = s->handoff[0], .events = POLLIN},
		};
		/* With clients, libvncserver waits on their sockets (10 ms, so
		 * damage is picked up within that); without, only our fds. */
		bool clients = s->screen->clientHead != NULL;
		if (poll(p, 3, clients ? 0 : 20) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents)
			accept_all(s);
		if (p[2].revents)
			take_handoffs(s);
		if (s->screen->clientHead) {
			refresh(s);
			rfbProcessEvents(s->screen, 10000);
		}
	}
	return NULL;
}

static bool read_password(struct vnc_server *s, const char *path, char *why, size_t n)
{
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(why, n, "--vnc-password-file: %s: %s", path, strerror(errno));
		return false;
	}
	char line[256];
	bool ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	line[ok ? strcspn(line, "\r\n") : 0] = '\0';
	if (!line[0]) {
		snprintf(why, n, "--vnc-password-file: %s: the first line (the password) is empty", path);
		return false;
	}
	/* VNC authentication (DES) uses the first 8 characters. */
	snprintf(s->password, sizeof(s->password), "%.8s", line);
	s->passwords[0] = s->password;
	s->passwords[1] = NULL;
	return true;
}

static void free_server(struct vnc_server *s)
{
	if (s->web)
		web_stop(s->web);
	if (s->screen)
		rfbScreenCleanup(s->screen);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		view_unlisten(s->listen_addr);
	}
	int fd;
	while (s->handoff[0] >= 0 && read(s->handoff[0], &fd, sizeof(fd)) == sizeof(fd))
		close(fd);
	for (int i = 0; i < 2; i++) {
		if (s->handoff[i] >= 0)
			close(s->handoff[i]);
		if (s->wake[i] >= 0)
			close(s->wake[i]);
	}
	view_damage_destroy(&s->damage);
	explicit_bzero(s->password, sizeof(s->password));
	free(s->listen_addr);
	free(s->fb);
	free(s);
}

struct vnc_server *vnc_start(vmk_vm *vm, struct view_hub *hub, const struct vnc_options *o, char *why,
			     size_t n)
{
	struct vnc_server *s = calloc(1, sizeof(*s));
	int argc = 0;

	if (!s) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	s->vm = vm;
	s->listen_fd = s->handoff[0] = s->handoff[1] = s->wake[0] = s->wake[1] = -1;
	s->last_x = s->last_y = -1;
	s->pointer_width = o->pointer_width;
	s->pointer_height = o->pointer_height;
	view_damage_init(&s->damage);
	if (hub->count == VIEW_MAX) {
		snprintf(why, n, "too many views");
		goto fail;
	}
	if (o->password_file && !read_password(s, o->password_file, why, n))
		goto fail;
	if (pipe2(s->handoff, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(s->wake, O_CLOEXEC) != 0) {
		snprintf(why, n, "%s", strerror(errno));
		goto fail;
	}
	if (o->listen) {
		char e[400];
		s->listen_fd = view_listen(o->listen, o->allow_remote, e, sizeof(e));
		if (s->listen_fd < 0) {
			snprintf(why, n, "--vnc: %s", e);
			goto fail;
		}
		s->listen_addr = strdup(o->listen);
	}
	rfbLog = quiet;
	rfbErr = getenv("VMKIT_VNC_DEBUG") ? rfbErr : quiet;
	s->width = o->width ? o->width : 800;
	s->height = o->height ? o->height : 600;
	s->fb = calloc((size_t)s->width * s->height, 4);
	s->screen = s->fb ? rfbGetScreen(&argc, NULL, (int)s->width, (int)s->height, 8, 3, 4) : NULL;
	if (!s->screen) {
		snprintf(why, n, "--vnc: cannot set up the VNC server");
		goto fail;
	}
	rfbScreenInfoPtr sc = s->screen;
	sc->screenData = s;
	sc->frameBuffer = (char *)s->fb;
	set_format(sc);
	sc->desktopName = "vmkit";
	/* This thread accepts; libvncserver listens on nothing itself. */
	sc->autoPort = FALSE;
	sc->port = 0;
	sc->ipv6port = 0;
	sc->httpDir = NULL;
	sc->alwaysShared = TRUE;
	sc->kbdAddEvent = on_key;
	sc->ptrAddEvent = on_pointer;
	sc->setDesktopSizeHook = on_set_size;
	sc->newClientHook = on_new_client;
	sc->cursor = NULL;
	if (o->password_file) {
		sc->authPasswdData = (void *)s->passwords;
		sc->passwordCheck = rfbCheckPasswordByList;
	}
	rfbInitServer(sc);
	if (o->web) {
		char e[400];
		s->web = web_start(o->web, o->allow_remote, o->web_dir, hand_over, s, e, sizeof(e));
		if (!s->web) {
			snprintf(why, n, "--web: %s", e);
			goto fail;
		}
	}
	if (pthread_create(&s->thread, NULL, run, s) != 0) {
		snprintf(why, n, "cannot start the VNC thread");
		goto fail;
	}
	s->running = true;
	view_hub_add(hub, &s->damage);
	return s;
fail:
	free_server(s);
	return NULL;
}

void vnc_stop(struct vnc_server *s)
{
	if (!s)
		return;
	if (s->running) {
		ssize_t r = write(s->wake[1], "", 1);
		(void)r;
		pthread_join(s->thread, NULL);
	}
	free_server(s);
}
