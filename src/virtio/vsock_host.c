/* virtio-vsock's host endpoints (include/vmkit/socket.h): where a guest
 * connection goes (a forward's unix socket, an application's listener, the
 * hybrid socket's PATH_<port>), the sockets vmkit listens on (forwards to
 * the guest, Firecracker's hybrid socket with its CONNECT line), and the
 * application's run-time connects and accept decisions.
 *
 * The application's listeners and connects use the same connections as a
 * forward, with one end of a socketpair as the host socket; the other end
 * goes to the application through the owner's hooks (the VM's event
 * thread), so no application code runs on the I/O thread. A decision or an
 * answer that never comes is bounded by a deadline, checked by one timer.
 * Everything here runs on the I/O thread with the device's lock held,
 * except where a function says otherwise. */
#include "util/error_priv.h"
#include "virtio/vsock_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

/* A socketpair: [0] ours, non-blocking; [1] the application's, blocking. */
static bool app_socketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return false;
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	return true;
}

/* The guest connects to a port the application listens on: the connection
 * waits for its decision (accept_done). */
static void guest_to_app(struct virtio_vsock *vs, const struct vsock_pkt *p)
{
	struct vsock_conn *c = NULL;
	int sv[2];

	if (!vs->hooks.accept || !vs->hooks.new_id || !app_socketpair(sv)) {
		vsock_orphan_rst(vs, p->dst_port, p->src_port);
		return;
	}
	if (!(c = vsock_conn_new(vs, p->src_port, p->dst_port, sv[0]))) {
		close(sv[0]);
		close(sv[1]);
		vsock_orphan_rst(vs, p->dst_port, p->src_port);
		return;
	}
	c->state = CONN_ACCEPTING;
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	c->id = vs->hooks.new_id(vs->hooks.ctx);
	if (!vs->hooks.accept(vs->hooks.ctx, c->id, p->dst_port, p->src_port, sv[1])) {
		close(sv[1]);
		vsock_conn_close(c, true);
		return;
	}
	vsock_set_deadline(c, VSOCK_ANSWER_TIMEOUT_NS);
}

/* The guest connects to host port p->dst_port: a forward in CONNECT mode,
 * else an application's listener, else the hybrid socket's PATH_<port>. */
void vsock_host_connect(struct virtio_vsock *vs, const struct vsock_pkt *p)
{
	const char *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vsock_conn *c;
	int fd;

	for (size_t i = 0; i < vs->cfg->nforwards && !path; i++)
		if (vs->cfg->forwards[i].mode == VMK_SOCKET_FORWARD_GUEST_TO_HOST &&
		    vs->cfg->forwards[i].port == p->dst_port)
			path = vs->cfg->forwards[i].path;
	if (!path && vs->hooks.has_listener && vs->hooks.has_listener(vs->hooks.ctx, p->dst_port)) {
		guest_to_app(vs, p);
		return;
	}
	if (path)
		memcpy(sa.sun_path, path, strlen(path));
	else if (vs->cfg->hybrid_path) /* fits: checked when configured */
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", vs->cfg->hybrid_path, p->dst_port);
	else {
		vsock_orphan_rst(vs, p->dst_port, p->src_port);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* A unix connect does not wait: the listener's backlog takes it or not. */
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    !(c = vsock_conn_new(vs, p->src_port, p->dst_port, fd))) {
		if (fd >= 0)
			close(fd);
		vsock_orphan_rst(vs, p->dst_port, p->src_port);
		return;
	}
	c->state = CONN_OPEN;
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	vsock_conn_pend(c, PEND_RESPONSE);
}

/* The guest accepted a connection the host side asked for: the hybrid
 * client hears "OK <host port>\n", the owner's connect gets its fd.
 * False when that failed and the connection is closed. */
bool vsock_host_answered(struct vsock_conn *c)
{
	if (c->hybrid) {
		char ok[24];
		int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
		/* A fresh socket's buffer takes these few bytes whole. */
		if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL) != n) {
			vsock_conn_close(c, true);
			return false;
		}
	}
	if (c->connecting) {
		int fd = c->app_fd;
		c->connecting = false;
		c->app_fd = -1;
		if (!c->vs->hooks.connected || !c->vs->hooks.connected(c->vs->hooks.ctx, c->id, fd, 0)) {
			close(fd);
			vsock_conn_close(c, true);
			return false;
		}
	}
	return true;
}

/* A hybrid client's first line, taken up to its '\n' and no further: what
 * follows is already the stream. Peeked first, then consumed, so a line
 * that comes in pieces never leaves unread bytes (level-triggered epoll
 * would call again and again). */
void vsock_host_read_line(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;
	size_t room = sizeof(c->line) - c->line_len, take;
	char peek[VSOCK_HYBRID_LINE_MAX];
	uint32_t port;
	ssize_t n = recv(c->fd, peek, room, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		vsock_conn_close(c, false);
		return;
	}
	char *nl = memchr(peek, '\n', (size_t)n);
	take = nl ? (size_t)(nl - peek) + 1 : (size_t)n;
	if (recv(c->fd, c->line + c->line_len, take, 0) != (ssize_t)take) {
		vsock_conn_close(c, false);
		return;
	}
	c->line_len += (uint8_t)take;
	if (!nl) {
		if (c->line_len == sizeof(c->line))
			vsock_conn_close(c, false); /* too long for a CONNECT line */
		return;
	}
	if (vsock_hybrid_parse(c->line, c->line_len, &port) != 0) {
		vsock_conn_close(c, false);
		return;
	}
	c->guest_port = port;
	c->host_port = vsock_alloc_port(vs, port);
	if (vsock_conn_find(vs, port, c->host_port)) {
		vsock_conn_close(c, false);
		return;
	}
	c->state = CONN_REQUESTED;
	c->hybrid = true;
	vsock_set_deadline(c, VSOCK_ANSWER_TIMEOUT_NS);
	vsock_conn_pend(c, PEND_REQUEST);
}

/* A client of a LISTEN forward: joined to the guest's port once it answers. */
void vsock_host_accept(void *ctx, uint32_t events)
{
	struct vsock_listener *li = ctx;
	struct virtio_vsock *vs = li->vs;
	struct vsock_conn *c = NULL;
	int fd;

	(void)events;
	fd = accept4(li->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	pthread_mutex_lock(&vs->lock);
	if (vs->active && !li->port) {
		/* The hybrid socket: the guest port comes with the client's line. */
		if ((c = vsock_conn_new(vs, 0, 0, fd))) {
			c->state = CONN_LINE;
			vsock_set_deadline(c, VSOCK_LINE_TIMEOUT_NS);
			vsock_conn_watch(c);
		}
	} else if (vs->active) {
		uint32_t port = vsock_alloc_port(vs, li->port);
		if (!vsock_conn_find(vs, li->port, port) && (c = vsock_conn_new(vs, li->port, port, fd))) {
			c->state = CONN_REQUESTED;
			vsock_set_deadline(c, VSOCK_ANSWER_TIMEOUT_NS);
			vsock_conn_pend(c, PEND_REQUEST);
			vsock_rx_flush(vs);
		}
	}
	if (!c)
		close(fd); /* nobody to join it to: the client sees the connection end */
	vsock_finish(vs);
}

/* Whether a socket at sa has a live listener: a stale one (its process
 * gone) refuses the connection. Non-blocking, so a full backlog (live)
 * answers EAGAIN instead of waiting. */
static bool socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
				(errno != ECONNREFUSED && errno != ENOENT));

	if (fd >= 0)
		close(fd);
	return live;
}

/* Listens on path for port (0: the hybrid socket). */
bool vsock_host_listen(struct virtio_vsock *vs, uint32_t port, char *path, vmk_error **err)
{
	struct vsock_listener *li = &vs->listeners[vs->nlisteners];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	memcpy(sa.sun_path, path, strlen(path));
	/* A stale socket of an earlier run is replaced; a live one (another
	 * VM's, another program's) and anything else at the path stay. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "socket_device.path",
					     "socket_device.path: %s exists and is not a socket", path);
		if (socket_in_use(&sa))
			return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "socket_device.path",
					     "socket_device.path: %s is in use (something listens on it)",
					     path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return vmk_set_errno(err, VMK_ERR_SOCKET_DEVICE, "socket_device.path", e,
				     "socket_device.path: cannot listen on %s", path);
	}
	*li = (struct vsock_listener){.vs = vs, .port = port, .fd = fd, .path = path};
	vs->nlisteners++;
	return true;
}

/* Every tick: connections whose deadline passed are given up on. */
void vsock_host_tick(void *ctx, uint32_t events)
{
	struct virtio_vsock *vs = ctx;
	uint64_t n, now = vsock_now_ns();
	bool any = false;

	(void)events;
	(void)!read(vs->timer_fd, &n, sizeof(n));
	pthread_mutex_lock(&vs->lock);
	for (unsigned i = 0; i < vs->nconns;) {
		struct vsock_conn *c = vs->conns[i];
		if (!c->deadline || c->state == CONN_CLOSED || now < c->deadline) {
			any |= c->deadline && c->state != CONN_CLOSED;
			i++;
			continue;
		}
		if (c->state == CONN_LINE) {
			vsock_conn_close(c, false);
			vsock_conn_drop(vs, c); /* the last connection moved to i */
			continue;
		}
		c->fail_errno = ETIMEDOUT;
		vsock_conn_close(c, true);
		i++;
	}
	if (!any && vs->timer_armed) {
		timerfd_settime(vs->timer_fd, 0, &(struct itimerspec){0}, NULL);
		vs->timer_armed = false;
	}
	vsock_rx_flush(vs);
	vsock_finish(vs);
}

struct vsock_request {
	struct virtio_vsock *vs;
	uint64_t id;
	uint32_t port;
	bool accept;
};

/* I/O thread: the application's connect to the guest's port. */
static void connect_run(void *arg)
{
	struct vsock_request *r = arg;
	struct virtio_vsock *vs = r->vs;
	struct vsock_conn *c = NULL;
	int sv[2] = {-1, -1}, e = ENOTCONN; /* the driver is not running */

	pthread_mutex_lock(&vs->lock);
	if (vs->active) {
		uint32_t hp = vsock_alloc_port(vs, r->port);
		e = ENOMEM;
		if (!vsock_conn_find(vs, r->port, hp) && app_socketpair(sv) &&
		    (c = vsock_conn_new(vs, r->port, hp, sv[0]))) {
			c->state = CONN_REQUESTED;
			c->id = r->id;
			c->connecting = true;
			c->app_fd = sv[1];
			vsock_set_deadline(c, VSOCK_ANSWER_TIMEOUT_NS);
			vsock_conn_pend(c, PEND_REQUEST);
			vsock_rx_flush(vs);
		}
	}
	if (!c) {
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		if (vs->hooks.connected)
			vs->hooks.connected(vs->hooks.ctx, r->id, -1, e);
	}
	vsock_finish(vs);
	free(r);
}

/* I/O thread: the application's decision on a guest's connection. */
static void accept_run(void *arg)
{
	struct vsock_request *r = arg;
	struct virtio_vsock *vs = r->vs;
	struct vsock_conn *c;

	pthread_mutex_lock(&vs->lock);
	c = vsock_conn_by_id(vs, r->id);
	if (c && c->state == CONN_ACCEPTING) {
		c->deadline = 0;
		if (r->accept) {
			c->state = CONN_OPEN;
			vsock_conn_pend(c, PEND_RESPONSE);
		} else {
			vsock_conn_close(c, true);
		}
		vsock_rx_flush(vs);
	}
	vsock_finish(vs);
	free(r);
}

static bool vsock_post(struct virtio_vsock *vs, evloop_fn fn, const struct vsock_request *r)
{
	struct vsock_request *copy = malloc(sizeof(*copy));

	if (!copy)
		return false;
	*copy = *r;
	/* The transport's I/O loop: set before any driver runs, unlike vs->loop. */
	if (evloop_post(virtio_io_loop(&vs->dev), fn, copy) != 0) {
		free(copy);
		return false;
	}
	return true;
}

bool virtio_vsock_connect(struct virtio_vsock *vs, uint64_t id, uint32_t guest_port)
{
	return vsock_post(vs, connect_run, &(struct vsock_request){.vs = vs, .id = id, .port = guest_port});
}

void virtio_vsock_accept_done(struct virtio_vsock *vs, uint64_t id, bool accept)
{
	/* Not posted (no memory): the deadline resets the guest. */
	vsock_post(vs, accept_run, &(struct vsock_request){.vs = vs, .id = id, .accept = accept});
}
