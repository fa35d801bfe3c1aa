/* The browser view: a small static file server for noVNC (HTTP/1.0, GET,
 * one request per connection) whose websocket requests (noVNC's
 * /websockify) are handed, unread, to the VNC server, which does the
 * websocket handshake itself (libvncserver). So one port serves the page and
 * the VM's screen: http://HOST:PORT/vnc.html?autoconnect=1.
 *
 * One thread serves connections in turn; each has 5 s to send its request
 * and to take its answer, so a stalled client delays others by that much at
 * most. Paths with ".." or a component starting with "." are refused, and
 * so are websockets from pages of another origin (cross-site websocket
 * hijacking: any web page may try ws://127.0.0.1:PORT). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "view/vnc.h"

#define REQUEST_MAX 8192
#define TIMEOUT_MS  5000

struct web_server {
	int fd;
	int wake[2];
	char *addr;
	char *dir;
	void (*hand_over)(int fd, void *ctx);
	void *ctx;
	pthread_t thread;
};

static const struct {
	const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "application/javascript"},
    {".css", "text/css"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".ogg", "audio/ogg"},
    {".mp3", "audio/mpeg"},
};

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer(int fd, const char *status)
{
	char buf[256];
	int len = snprintf(buf, sizeof(buf),
			   "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: "
			   "close\r\n\r\n%s\n",
			   status, strlen(status) + 1, status);
	ssize_t r = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	(void)r;
}

/* A header line "name: ...value..." (case-insensitive) in the request. */
static bool has_header(const char *req, const char *name, const char *value)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(req, "\r\n"); l; l = strstr(l, "\r\n")) {
		l += 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *end = strstr(l, "\r\n");
			for (const char *v = l + nl + 1; v && end && v + strlen(value) <= end; v++)
				if (strncasecmp(v, value, strlen(value)) == 0)
					return true;
		}
	}
	return false;
}

/* A header's value (trimmed) into out; false when absent. */
static bool header(const char *req, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(req, "\r\n"); l; l = strstr(l, "\r\n")) {
		l += 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1, *end = strstr(v, "\r\n");
			while (*v == ' ' || *v == '\t')
				v++;
			size_t len = end ? (size_t)(end - v) : strlen(v);
			while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
				len--;
			if (len >= n)
				return false;
			memcpy(out, v, len);
			out[len] = '\0';
			return true;
		}
	}
	return false;
}

/* Browsers let any page open a websocket to any address, loopback included:
 * only noVNC's page, served from this very origin, may reach the VM. */
static bool same_origin(const char *req)
{
	char host[256], origin[300], want[300];

	if (!header(req, "Host", host, sizeof(host)) || !header(req, "Origin", origin, sizeof(origin)))
		return false;
	snprintf(want, sizeof(want), "http://%s", host);
	return strcasecmp(origin, want) == 0;
}

static bool safe_path(const char *p)
{
	if (p[0] != '/')
		return false;
	for (const char *c = p; (c = strchr(c, '/')); c++)
		if (c[1] == '.' || c[1] == '/')
			return false;
	return !strstr(p, "..");
}

static void serve_file(struct web_server *w, int fd, char *req)
{
	char *path = req + 4, *end = strchr(path, ' ');

	if (!end) {
		answer(fd, "400 Bad Request");
		return;
	}
	*end = '\0';
	path[strcspn(path, "?#")] = '\0';
	if (strcmp(path, "/") == 0)
		path = "/vnc.html";
	if (!safe_path(path)) {
		answer(fd, "404 Not Found");
		return;
	}
	char full[4096];
	if (snprintf(full, sizeof(full), "%s%s", w->dir, path) >= (int)sizeof(full)) {
		answer(fd, "404 Not Found");
		return;
	}
	int f = open(full, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (f >= 0)
			close(f);
		answer(fd, "404 Not Found");
		return;
	}
	char head[512];
	int len = snprintf(head, sizeof(head),
			   "HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\nCache-Control: "
			   "no-cache\r\nConnection: close\r\n\r\n",
			   content_type(path), (long long)st.st_size);
	if (send(fd, head, (size_t)len, MSG_NOSIGNAL) == len) {
		off_t off = 0;
		while (off < st.st_size && sendfile(fd, f, &off, (size_t)(st.st_size - off)) > 0)
			;
	}
	close(f);
}

/* Reads (peeks) the request; websocket upgrades go to the VNC server with
 * nothing consumed, anything else is answered here. */
static void serve(struct web_server *w, int fd)
{
	char req[REQUEST_MAX];
	long deadline = now_ms() + TIMEOUT_MS;
	ssize_t got = 0;
	struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			close(fd);
			return;
		}
		ssize_t r = recv(fd, req, sizeof(req) - 1, MSG_PEEK | MSG_DONTWAIT);
		if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
			close(fd);
			return;
		}
		if (r > 0) {
			req[r] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
			if (r == (ssize_t)sizeof(req) - 1) {
				answer(fd, "431 Request Header Fields Too Large");
				close(fd);
				return;
			}
			if (r == got) {
				/* Nothing new yet: peeking again would spin. */
				struct timespec ts = {0, 10 * 1000 * 1000};
				nanosleep(&ts, NULL);
			}
			got = r;
		}
	}
	if (strncmp(req, "GET ", 4) == 0 && has_header(req, "Upgrade", "websocket")) {
		if (same_origin(req)) {
			w->hand_over(fd, w->ctx);
			return;
		}
		answer(fd, "403 Forbidden");
		close(fd);
		return;
	}
	/* Consume what was peeked, so closing does not reset the connection. */
	size_t head = (size_t)(strstr(req, "\r\n\r\n") - req) + 4;
	ssize_t r = recv(fd, req, head, MSG_DONTWAIT);
	(void)r;
	req[head] = '\0';
	if (strncmp(req, "GET ", 4) != 0)
		answer(fd, "405 Method Not Allowed");
	else
		serve_file(w, fd, req);
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void *run(void *arg)
{
	struct web_server *w = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = w->wake[0], .events = POLLIN}, {.fd = w->fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents) {
			int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				serve(w, fd);
		}
	}
	return NULL;
}

struct web_server *web_start(const char *addr, bool allow_remote, const char *dir,
			     void (*hand_over)(int fd, void *ctx), void *ctx, char *why, size_t n)
{
	struct web_server *w = calloc(1, sizeof(*w));
	char check[4096];

	if (!w) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	w->fd = w->wake[0] = w->wake[1] = -1;
	snprintf(check, sizeof(check), "%s/vnc.html", dir);
	if (access(check, R_OK) != 0) {
		snprintf(why, n, "no noVNC in %s (%s: %s; Debian's novnc package installs it)", dir, check,
			 strerror(errno));
		goto fail;
	}
	w->fd = view_listen(addr, allow_remote, why, n);
	if (w->fd < 0)
		goto fail;
	w->addr = strdup(addr);
	w->dir = strdup(dir);
	w->hand_over = hand_over;
	w->ctx = ctx;
	if (!w->addr || !w->dir || pipe2(w->wake, O_CLOEXEC) != 0 ||
	    pthread_create(&w->thread, NULL, run, w)) {
		snprintf(why, n, "cannot start the web server: %s", strerror(errno));
		goto fail;
	}
	return w;
fail:
	if (w->fd >= 0) {
		close(w->fd);
		view_unlisten(addr);
	}
	for (int i = 0; i < 2; i++)
		if (w->wake[i] >= 0)
			close(w->wake[i]);
	free(w->addr);
	free(w->dir);
	free(w);
	return NULL;
}

void web_stop(struct web_server *w)
{
	ssize_t r = write(w->wake[1], "", 1);

	(void)r;
	pthread_join(w->thread, NULL);
	close(w->fd);
	view_unlisten(w->addr);
	close(w->wake[0]);
	close(w->wake[1]);
	free(w->addr);
	free(w->dir);
	free(w);
}
