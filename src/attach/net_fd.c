/* File-handle network attachment (Apple: VZFileHandleNetworkDeviceAttachment):
 * a connected datagram or seqpacket socket, one datagram per Ethernet
 * frame, no header. A peer that goes away (EOF, ECONNREFUSED, EPIPE) takes
 * the link down; the VM keeps running. A peer that reads too slowly fills
 * the socket: send says -EAGAIN and the device waits for tx_ready, which
 * comes when the socket is writable again. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attach/net.h"
#include "config/network_priv.h"
#include "util/error_priv.h"

/* Frames may carry a VLAN tag beyond MTU + Ethernet header. */
#define FRAME_OVERHEAD (14 + 4)

struct net_fd {
	struct net_backend be;
	int fd;
	struct evloop *io;
	struct net_backend_client client;
	bool watching, paused, down;
	bool tx_blocked; /* a send said -EAGAIN; tx_ready is owed */
	size_t pending;	 /* a frame in buf the guest had no room for */
	size_t max_frame;
	uint8_t buf[];
};

/* The one epoll registration of the fd asks for what is wanted now:
 * frames to read unless the guest is out of receive buffers, room to
 * write while a send waits. */
static void watch(struct net_fd *f)
{
	if (f->watching)
		evloop_mod_fd(f->io, f->fd, (f->paused ? 0 : EPOLLIN) | (f->tx_blocked ? EPOLLOUT : 0));
}

static void disconnect(struct net_fd *f)
{
	bool owed = f->tx_blocked;

	if (f->down)
		return;
	f->down = true;
	f->pending = 0;
	f->tx_blocked = false;
	if (f->watching)
		evloop_del_fd(f->io, f->fd);
	f->watching = false;
	if (f->client.link_changed)
		f->client.link_changed(f->client.ctx, false);
	/* The waiting frames now fail with -ENOTCONN: dropped, as with the
	 * cable out, instead of stuck in the guest's queue. */
	if (owed && f->client.tx_ready)
		f->client.tx_ready(f->client.ctx);
}

static bool is_gone(int e)
{
	return e == ECONNREFUSED || e == EPIPE || e == ECONNRESET || e == ENOTCONN;
}

/* Delivers frames until the socket is empty or the guest is out of room. */
static void drain(struct net_fd *f)
{
	for (int budget = 256; budget > 0 && !f->down; budget--) {
		if (!f->pending) {
			ssize_t n = recv(f->fd, f->buf, f->max_frame + 1, MSG_DONTWAIT | MSG_TRUNC);

			if (n < 0) {
				if (is_gone(errno))
					disconnect(f);
				return;
			}
			if (n == 0) {
				int type = 0;
				socklen_t len = sizeof(type);

				/* Zero bytes is EOF on a seqpacket socket, an empty (and
				 * useless) datagram otherwise. */
				if (getsockopt(f->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
				    type == SOCK_SEQPACKET)
					disconnect(f);
				continue;
			}
			/* Longer than the MTU allows: dropped. */
			if ((size_t)n > f->max_frame)
				continue;
			f->pending = (size_t)n;
		}
		struct iovec iov = {f->buf, f->pending};
		if (!f->client.receive(f->client.ctx, &iov, 1)) {
			f->paused = true;
			watch(f);
			return;
		}
		f->pending = 0;
	}
	/* More may wait: epoll (level-triggered) calls again. */
}

static void fd_event(void *ctx, uint32_t events)
{
	struct net_fd *f = ctx;

	/* An error or hang-up also ends the wait: the retried send finds it. */
	if (f->tx_blocked && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		f->tx_blocked = false;
		watch(f);
		if (f->client.tx_ready)
			f->client.tx_ready(f->client.ctx);
	}
	/* Writable alone says nothing about frames to read while paused. */
	if (!f->down && (!f->paused || (events & (EPOLLHUP | EPOLLERR))))
		drain(f);
	if (!f->down && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
		disconnect(f);
}

static int fd_start(struct net_backend *be, struct evloop *io, const struct net_backend_client *client)
{
	struct net_fd *f = (struct net_fd *)be;
	int r;

	f->io = io;
	f->client = *client;
	r = evloop_add_fd(io, f->fd, EPOLLIN, fd_event, f);
	f->watching = r == 0;
	return r;
}

static int fd_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct net_fd *f = (struct net_fd *)be;
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};
	size_t len = 0;

	if (f->down)
		return -ENOTCONN;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > f->max_frame)
		return -EMSGSIZE;
	if (sendmsg(f->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		return 0;
	int e = errno;
	if (is_gone(e)) {
		disconnect(f);
		return -e;
	}
	/* The peer's queue or our send buffer is full (ENOBUFS where the
	 * kernel says so instead): not taken, try again once writable. A
	 * writable wakeup that comes before there is room (ENOBUFS from a full
	 * device queue) only costs one more try. */
	if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
		if (!f->tx_blocked) {
			f->tx_blocked = true;
			watch(f);
		}
		return -EAGAIN;
	}
	return -e;
}

static void fd_rx_ready(struct net_backend *be)
{
	struct net_fd *f = (struct net_fd *)be;

	if (!f->paused || f->down)
		return;
	f->paused = false;
	watch(f);
	drain(f);
}

static void fd_stop(struct net_backend *be)
{
	struct net_fd *f = (struct net_fd *)be;

	if (f->watching)
		evloop_del_fd(f->io, f->fd);
	f->watching = false;
}

static void fd_destroy(struct net_backend *be)
{
	struct net_fd *f = (struct net_fd *)be;

	close(f->fd);
	free(f);
}

static const struct net_backend_ops fd_ops = {
    .name = "fd",
    .start = fd_start,
    .send = fd_send,
    .rx_ready = fd_rx_ready,
    .stop = fd_stop,
    .destroy = fd_destroy,
};

struct net_backend *net_fd_open(const struct vmk_network_attachment *a, const char *field, vmk_error **err)
{
	size_t max = (size_t)a->mtu + FRAME_OVERHEAD;
	struct net_fd *f;

	if (!net_attachment_check(a, field, err))
		return NULL;
	f = calloc(1, sizeof(*f) + max + 1);
	if (!f) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field);
		return NULL;
	}
	f->fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 3);
	if (f->fd < 0) {
		vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno, "%s: file descriptor %d", field,
			      a->fd);
		free(f);
		return NULL;
	}
	f->be = (struct net_backend){.ops = &fd_ops, .mtu = a->mtu};
	f->max_frame = max;
	return &f->be;
}
