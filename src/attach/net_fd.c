/* File-handle network attachment (Apple: VZFileHandleNetworkDeviceAttachment):
 * a connected datagram or seqpacket socket, one datagram per Ethernet
 * frame, no header. A peer that goes away (EOF, ECONNREFUSED, EPIPE) takes
 * the link down; the VM keeps running. */
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
	size_t pending; /* a frame in buf the guest had no room for */
	size_t max_frame;
	uint8_t buf[];
};

static void disconnect(struct net_fd *f)
{
	if (f->down)
		return;
	f->down = true;
	f->pending = 0;
	if (f->watching)
		evloop_del_fd(f->io, f->fd);
	f->watching = false;
	if (f->client.link_changed)
		f->client.link_changed(f->client.ctx, false);
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
			evloop_mod_fd(f->io, f->fd, 0);
			return;
		}
		f->pending = 0;
	}
	/* More may wait: epoll (level-triggered) calls again. */
}

static void fd_event(void *ctx, uint32_t events)
{
	struct net_fd *f = ctx;

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
	if (is_gone(errno)) {
		int e = errno;
		disconnect(f);
		return -e;
	}
	return -errno;
}

static void fd_rx_ready(struct net_backend *be)
{
	struct net_fd *f = (struct net_fd *)be;

	if (!f->paused || f->down)
		return;
	f->paused = false;
	evloop_mod_fd(f->io, f->fd, EPOLLIN);
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
