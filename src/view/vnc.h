/* The VM's first display over VNC (libvncserver) and in a browser (noVNC
 * from web.c, through the same server's websockets). */
#ifndef VMK_VIEW_VNC_H
#define VMK_VIEW_VNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/vmkit.h>

#include "view/view.h"

struct vnc_options {
	const char *listen;	   /* HOST:PORT or unix:PATH; NULL: only for web */
	const char *web;	   /* HOST:PORT serving noVNC, NULL: none */
	const char *web_dir;	   /* noVNC's files */
	bool allow_remote;	   /* beyond loopback */
	const char *password_file; /* its first line; NULL: no password */
	uint32_t width, height;	   /* the display's configured size */
	/* The screen pointer's screen (0: none): VNC positions are scaled from
	 * the frame's size to it. */
	uint32_t pointer_width, pointer_height;
};

struct vnc_server;

/* Listens and starts the server's thread (before the VM starts, so a port in
 * use stops everything). NULL with why on failure. */
struct vnc_server *vnc_start(vmk_vm *vm, struct view_hub *hub, const struct vnc_options *o, char *why,
			     size_t n);
/* After view_hub_stop(): the display callback must no longer reach it. */
void vnc_stop(struct vnc_server *s);

/* --- web.c: a static file server for noVNC whose websocket requests are
 * handed to the VNC server (hand_over takes the socket, unread). --- */
struct web_server;
struct web_server *web_start(const char *addr, bool allow_remote, const char *dir,
			     void (*hand_over)(int fd, void *ctx), void *ctx, char *why, size_t n);
void web_stop(struct web_server *w);

#endif
