/* A small VNC client for the view tests (libvncclient): connects to
 * HOST:PORT or a unix socket path, then runs its commands in order.
 *
 * usage: vmkit-vnc-client ADDR [--password-file F] CMD...
 *   wait:MS         handle the server's messages for MS milliseconds
 *   size:WxH        wait (60 s at most) until the desktop is W x H
 *   snapshot:PATH   the picture as a PNG (after a full update)
 *   type:TEXT       key events for TEXT (US layout, Shift where needed;
 *                   \n is Return)
 *   move:X,Y        pointer to X,Y; click:X,Y presses and releases button 1
 *   ask:WxH         asks the server for a desktop size (ExtendedDesktopSize)
 * Prints VNC-CONNECTED, VNC-RESIZE and VNC-CURSOR lines; exits 1 on a
 * failure. */
#include <poll.h>
#include <rfb/rfbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <vmkit/vmkit.h>

static char *password;

static char *get_password(rfbClient *c)
{
	(void)c;
	return password ? strdup(password) : NULL;
}

static void got_cursor(rfbClient *c, int xhot, int yhot, int w, int h, int bpp)
{
	(void)c;
	(void)bpp;
	printf("VNC-CURSOR %dx%d hot=%d,%d\n", w, h, xhot, yhot);
	fflush(stdout);
}

static rfbBool resize(rfbClient *c)
{
	free(c->frameBuffer);
	c->frameBuffer = calloc((size_t)c->width * c->height, 4);
	printf("VNC-RESIZE %dx%d\n", c->width, c->height);
	fflush(stdout);
	return c->frameBuffer != NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool pump(rfbClient *c, long ms)
{
	long end = now_ms() + ms;

	for (long left; (left = end - now_ms()) > 0;) {
		int r = WaitForMessage(c, (unsigned)(left > 100 ? 100000 : left * 1000));
		if (r < 0 || (r > 0 && !HandleRFBServerMessage(c))) {
			fprintf(stderr, "vnc-client: connection lost\n");
			return false;
		}
	}
	return true;
}

static bool key(rfbClient *c, uint32_t sym, bool shift)
{
	struct timespec pace = {0, 15 * 1000 * 1000};
	bool ok = true;

	if (shift)
		ok = ok && SendKeyEvent(c, 0xffe1, TRUE);
	ok = ok && SendKeyEvent(c, sym, TRUE) && SendKeyEvent(c, sym, FALSE);
	if (shift)
		ok = ok && SendKeyEvent(c, 0xffe1, FALSE);
	nanosleep(&pace, NULL);
	return ok && pump(c, 1);
}

static bool type(rfbClient *c, const char *t)
{
	for (; *t; t++) {
		bool ok;
		if (*t == '\n')
			ok = key(c, 0xff0d, false);
		else
			ok = key(c, (unsigned char)*t,
				 strchr("~!@#$%^&*()_+{}|:\"<>?", *t) || (*t >= 'A' && *t <= 'Z'));
		if (!ok)
			return false;
	}
	return true;
}

static bool snapshot(rfbClient *c, const char *path)
{
	vmk_error *err = NULL;

	if (!SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, FALSE) || !pump(c, 1500))
		return false;
	vmk_frame f = {.width = (uint32_t)c->width,
		       .height = (uint32_t)c->height,
		       .stride = (uint32_t)c->width * 4,
		       .pixels = (uint8_t *)c->frameBuffer,
		       .active = true};
	if (!vmk_frame_save_png(&f, path, &err)) {
		fprintf(stderr, "vnc-client: %s\n", vmk_error_get_message(err));
		vmk_error_free(err);
		return false;
	}
	printf("VNC-SNAPSHOT %dx%d %s\n", c->width, c->height, path);
	return true;
}

/* rfbClientCleanup leaves the frame buffer (ours) and the cursor's bitmaps.
 * Before closing, the server gets to the end of what was sent: closing with
 * unread updates would reset the connection and drop input still queued. */
static void cleanup(rfbClient *c)
{
	char sink[65536];
	long end = now_ms() + 10000;

	if (c->sock != RFB_INVALID_SOCKET && shutdown(c->sock, SHUT_WR) == 0)
		while (now_ms() < end) {
			struct pollfd p = {.fd = c->sock, .events = POLLIN};
			if (poll(&p, 1, 100) > 0 && recv(c->sock, sink, sizeof(sink), 0) <= 0)
				break;
		}
	free(c->frameBuffer);
	free(c->rcSource);
	free(c->rcMask);
	c->frameBuffer = NULL;
	c->rcSource = c->rcMask = NULL;
	rfbClientCleanup(c);
}

static bool run(rfbClient *c, const char *cmd)
{
	const char *arg = strchr(cmd, ':');
	int a, b;

	if (!arg)
		return false;
	arg++;
	if (!strncmp(cmd, "wait:", 5))
		return pump(c, atol(arg));
	if (!strncmp(cmd, "snapshot:", 9))
		return snapshot(c, arg);
	if (!strncmp(cmd, "type:", 5))
		return type(c, arg);
	if (!strncmp(cmd, "size:", 5) && sscanf(arg, "%dx%d", &a, &b) == 2) {
		for (long end = now_ms() + 60000; c->width != a || c->height != b;)
			if (now_ms() > end || !pump(c, 100)) {
				fprintf(stderr, "vnc-client: the desktop stayed %dx%d\n", c->width,
					c->height);
				return false;
			}
		return true;
	}
	if (!strncmp(cmd, "ask:", 4) && sscanf(arg, "%dx%d", &a, &b) == 2)
		return SendExtDesktopSize(c, (uint16_t)a, (uint16_t)b) && pump(c, 200);
	if ((!strncmp(cmd, "move:", 5) || !strncmp(cmd, "click:", 6)) && sscanf(arg, "%d,%d", &a, &b) == 2) {
		bool ok = SendPointerEvent(c, a, b, 0);
		if (cmd[0] == 'c')
			ok = ok && SendPointerEvent(c, a, b, 1) && SendPointerEvent(c, a, b, 0);
		return ok && pump(c, 50);
	}
	return false;
}

int main(int argc, char **argv)
{
	int i = 2;

	if (argc < 2) {
		fprintf(stderr, "usage: vmkit-vnc-client HOST:PORT|PATH [--password-file F] CMD...\n");
		return 2;
	}
	if (argc > 3 && !strcmp(argv[2], "--password-file")) {
		static char line[128];
		FILE *f = fopen(argv[3], "r");
		if (!f || !fgets(line, sizeof(line), f))
			return 2;
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		password = line;
		i = 4;
	}
	rfbClient *c = rfbGetClient(8, 3, 4);
	/* XRGB8888 in memory (B, G, R, X), as vmkit's frames. */
	c->format.redShift = 16;
	c->format.greenShift = 8;
	c->format.blueShift = 0;
	/* Lossless, so pictures compare pixel for pixel. */
	c->appData.enableJPEG = FALSE;
	c->appData.useRemoteCursor = TRUE;
	c->GetPassword = get_password;
	c->GotCursorShape = got_cursor;
	c->MallocFrameBuffer = resize;
	c->canHandleNewFBSize = TRUE;
	char *addr = strdup(argv[1]), *colon = strrchr(addr, ':');
	free(c->serverHost);
	if (addr[0] != '/' && colon) {
		*colon = '\0';
		c->serverHost = strdup(addr);
		c->serverPort = atoi(colon + 1);
	} else {
		c->serverHost = strdup(addr);
		c->serverPort = 0;
	}
	free(addr);
	int none = 0;
	if (!rfbInitClient(c, &none, NULL)) {
		fprintf(stderr, "vnc-client: cannot connect to %s\n", argv[1]);
		return 1;
	}
	printf("VNC-CONNECTED %dx%d name=%s\n", c->width, c->height, c->desktopName);
	fflush(stdout);
	for (; i < argc; i++) {
		if (!run(c, argv[i])) {
			fprintf(stderr, "vnc-client: %s failed\n", argv[i]);
			cleanup(c);
			return 1;
		}
		fflush(stdout);
	}
	cleanup(c);
	return 0;
}
