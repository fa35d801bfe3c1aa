/* NAT attachment: guest frames go through libslirp (4.x), which answers
 * ARP, DHCP and DNS itself and carries TCP/UDP over the host's sockets.
 *
 * slirp is written for a poll() main loop: fill a pollfd set, sleep, report
 * revents. Here one "cycle" does that without sleeping: slirp's sockets sit
 * in a private epoll set that is itself one fd of the I/O loop, and a cycle
 * (poll with timeout 0, slirp_pollfds_poll, slirp_pollfds_fill, resync the
 * epoll set) runs when that set is readable, when slirp's TCP timer tick
 * (a timerfd armed with the timeout slirp asks for) expires, and after
 * frames from the guest or slirp's notify, through an eventfd kick that
 * coalesces bursts into one cycle. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "attach/nat.h"
#include "util/error_priv.h"

/* Frames held while the guest has no receive buffers. Past this slirp's
 * frames are dropped; TCP retransmits them. */
#define NAT_QUEUE_MAX 256
/* Largest frame either way: slirp's MTU plus the Ethernet header. */
#define NAT_MTU	      1500
#define NAT_FRAME_MAX (NAT_MTU + 14 + 4)

struct nat_timer {
	struct nat *nat;
	int fd;
	bool watched;
	SlirpTimerCb cb;
	void *cb_opaque;
	struct nat_timer *next;
};

struct nat_frame {
	size_t len;
	uint8_t data[];
};

struct nat {
	struct net_backend be;
	Slirp *slirp;
	struct evloop *io;
	struct net_backend_client client;
	bool running;
	int epfd;   /* slirp's sockets */
	int tickfd; /* slirp's TCP timers */
	int kickfd;
	bool kicked;

	/* The last fill: what slirp_pollfds_poll's indexes refer to. */
	struct pollfd *pfd;
	unsigned npfd, pfd_cap;
	/* fds in epfd, and the cycle each was last wanted in (by fd). */
	int *watched;
	unsigned nwatched, watched_cap;
	uint32_t *wanted_in;
	size_t wanted_cap;
	uint32_t cycle;

	struct nat_frame *queue[NAT_QUEUE_MAX];
	unsigned qhead, qlen;
	bool blocked; /* the guest refused a frame: stop reading host sockets */

	struct nat_timer *timers;
	uint8_t txbuf[NAT_FRAME_MAX];
};

static void nat_kick(struct nat *n)
{
	uint64_t one = 1;

	if (n->kicked || !n->running)
		return;
	n->kicked = true;
	(void)!write(n->kickfd, &one, sizeof(one));
}

static short to_poll(int ev)
{
	return (short)((ev & SLIRP_POLL_IN ? POLLIN : 0) | (ev & SLIRP_POLL_OUT ? POLLOUT : 0) |
		       (ev & SLIRP_POLL_PRI ? POLLPRI : 0));
}

static int from_poll(short re)
{
	return (re & POLLIN ? SLIRP_POLL_IN : 0) | (re & POLLOUT ? SLIRP_POLL_OUT : 0) |
	       (re & POLLPRI ? SLIRP_POLL_PRI : 0) | (re & POLLERR ? SLIRP_POLL_ERR : 0) |
	       (re & POLLHUP ? SLIRP_POLL_HUP : 0);
}

static int add_poll(int fd, int events, void *opaque)
{
	struct nat *n = opaque;

	if (n->npfd == n->pfd_cap) {
		unsigned cap = n->pfd_cap ? n->pfd_cap * 2 : 16;
		struct pollfd *p = realloc(n->pfd, cap * sizeof(*p));

		/* Without memory the socket is not watched this cycle;
		 * slirp sees no events for it, which it tolerates. */
		if (!p)
			return -1;
		n->pfd = p;
		n->pfd_cap = cap;
	}
	n->pfd[n->npfd] = (struct pollfd){.fd = fd, .events = to_poll(events)};
	return (int)n->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct nat *n = opaque;

	if (idx < 0 || (unsigned)idx >= n->npfd)
		return 0;
	return from_poll(n->pfd[idx].revents);
}

static bool mark_wanted(struct nat *n, int fd)
{
	if ((size_t)fd >= n->wanted_cap) {
		size_t cap = (size_t)fd + 64;
		uint32_t *w = realloc(n->wanted_in, cap * sizeof(*w));

		if (!w)
			return false;
		memset(w + n->wanted_cap, 0, (cap - n->wanted_cap) * sizeof(*w));
		n->wanted_in = w;
		n->wanted_cap = cap;
	}
	n->wanted_in[fd] = n->cycle;
	return true;
}

/* Makes epfd watch exactly the fds of the last fill. Every wanted fd is
 * re-armed, not only changed ones: slirp closes some sockets without
 * telling us, and a reused fd number would otherwise go unwatched. */
static void sync_epoll(struct nat *n)
{
	unsigned kept = 0;

	if (++n->cycle == 0)
		n->cycle = 1;
	for (unsigned i = 0; i < n->npfd; i++) {
		struct epoll_event ev = {.events = (uint32_t)n->pfd[i].events, .data.fd = n->pfd[i].fd};
		int fd = n->pfd[i].fd;

		if (!mark_wanted(n, fd))
			continue;
		if (epoll_ctl(n->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
			epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
	for (unsigned i = 0; i < n->nwatched; i++) {
		int fd = n->watched[i];

		if ((size_t)fd >= n->wanted_cap || n->wanted_in[fd] != n->cycle)
			epoll_ctl(n->epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	if (n->npfd > n->watched_cap) {
		int *w = realloc(n->watched, n->npfd * sizeof(*w));

		if (!w)
			return;
		n->watched = w;
		n->watched_cap = n->npfd;
	}
	for (unsigned i = 0; i < n->npfd; i++)
		if ((size_t)n->pfd[i].fd < n->wanted_cap && n->wanted_in[n->pfd[i].fd] == n->cycle)
			n->watched[kept++] = n->pfd[i].fd;
	n->nwatched = kept;
}

static void nat_cycle(struct nat *n)
{
	uint32_t timeout = UINT32_MAX;
	struct itimerspec its = {0};

	if (!n->running || n->blocked)
		return;
	if (n->npfd)
		(void)!poll(n->pfd, n->npfd, 0);
	slirp_pollfds_poll(n->slirp, 0, get_revents, n);
	n->npfd = 0;
	slirp_pollfds_fill(n->slirp, &timeout, add_poll, n);
	sync_epoll(n);
	if (timeout != UINT32_MAX) {
		its.it_value.tv_sec = timeout / 1000;
		its.it_value.tv_nsec = (long)(timeout % 1000) * 1000000 + 1;
	}
	timerfd_settime(n->tickfd, 0, &its, NULL);
}

static void on_sockets(void *ctx, uint32_t events)
{
	(void)events;
	nat_cycle(ctx);
}

static void on_tick(void *ctx, uint32_t events)
{
	struct nat *n = ctx;
	uint64_t v;

	(void)events;
	(void)!read(n->tickfd, &v, sizeof(v));
	nat_cycle(n);
}

static void on_kick(void *ctx, uint32_t events)
{
	struct nat *n = ctx;
	uint64_t v;

	(void)events;
	(void)!read(n->kickfd, &v, sizeof(v));
	n->kicked = false;
	nat_cycle(n);
}

static void set_blocked(struct nat *n, bool blocked)
{
	if (n->blocked == blocked)
		return;
	n->blocked = blocked;
	/* The socket set is level-triggered: while the guest cannot take
	 * frames, readable sockets would wake the loop for nothing. */
	evloop_mod_fd(n->io, n->epfd, blocked ? 0 : EPOLLIN);
	if (!blocked)
		nat_kick(n);
}

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct nat *n = opaque;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct nat_frame *f;

	if (!n->running)
		return (ssize_t)len;
	if (!n->qlen && n->client.receive(n->client.ctx, &iov, 1))
		return (ssize_t)len;
	set_blocked(n, true);
	if (n->qlen < NAT_QUEUE_MAX && (f = malloc(sizeof(*f) + len))) {
		f->len = len;
		memcpy(f->data, buf, len);
		n->queue[(n->qhead + n->qlen++) % NAT_QUEUE_MAX] = f;
	}
	return (ssize_t)len;
}

/* A misbehaving guest is the guest's problem; the library does not log on
 * its behalf, and slirp has already dropped the offending packet. */
static void guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	(void)msg;
}

static int64_t clock_get_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_timer(void *ctx, uint32_t events)
{
	struct nat_timer *t = ctx;
	struct nat *n = t->nat;
	uint64_t v;

	(void)events;
	if (read(t->fd, &v, sizeof(v)) != sizeof(v))
		return;
	t->cb(t->cb_opaque);
	nat_kick(n);
}

static void timer_watch(struct nat_timer *t)
{
	if (!t->watched && t->nat->io)
		t->watched = evloop_add_fd(t->nat->io, t->fd, EPOLLIN, on_timer, t) == 0;
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct nat *n = opaque;
	struct nat_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0) {
		free(t);
		return NULL;
	}
	t->nat = n;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->next = n->timers;
	n->timers = t;
	if (n->running)
		timer_watch(t);
	return t;
}

static void timer_free(void *timer, void *opaque)
{
	struct nat *n = opaque;
	struct nat_timer *t = timer, **p;

	if (!t)
		return;
	for (p = &n->timers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	if (t->watched)
		evloop_del_fd(n->io, t->fd);
	close(t->fd);
	free(t);
}

/* expire_ms is on clock_get_ns's clock, CLOCK_MONOTONIC. */
static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct nat_timer *t = timer;
	struct itimerspec its = {0};

	(void)opaque;
	if (!t)
		return;
	if (expire_ms <= 0)
		expire_ms = 1;
	its.it_value.tv_sec = expire_ms / 1000;
	its.it_value.tv_nsec = (long)(expire_ms % 1000) * 1000000;
	timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void notify(void *opaque)
{
	nat_kick(opaque);
}

static const SlirpCb nat_callbacks = {
    .send_packet = send_packet,
    .guest_error = guest_error,
    .clock_get_ns = clock_get_ns,
    .timer_new = timer_new,
    .timer_free = timer_free,
    .timer_mod = timer_mod,
    .register_poll_fd = register_poll_fd,
    .unregister_poll_fd = unregister_poll_fd,
    .notify = notify,
};

static int nat_start(struct net_backend *be, struct evloop *io, const struct net_backend_client *client)
{
	struct nat *n = (struct nat *)be;
	int r;

	n->io = io;
	n->client = *client;
	r = evloop_add_fd(io, n->epfd, EPOLLIN, on_sockets, n);
	if (r == 0 && (r = evloop_add_fd(io, n->tickfd, EPOLLIN, on_tick, n)) != 0)
		evloop_del_fd(io, n->epfd);
	if (r == 0 && (r = evloop_add_fd(io, n->kickfd, EPOLLIN, on_kick, n)) != 0) {
		evloop_del_fd(io, n->epfd);
		evloop_del_fd(io, n->tickfd);
	}
	if (r)
		return r;
	n->running = true;
	for (struct nat_timer *t = n->timers; t; t = t->next)
		timer_watch(t);
	nat_kick(n);
	return 0;
}

static int nat_send(struct net_backend *be, const struct iovec *iov, unsigned cnt)
{
	struct nat *n = (struct nat *)be;
	size_t len = 0;

	for (unsigned i = 0; i < cnt; i++) {
		if (iov[i].iov_len > sizeof(n->txbuf) - len)
			return -EMSGSIZE;
		memcpy(n->txbuf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	/* Never -EAGAIN: slirp_input takes the frame at once. What a host
	 * socket cannot take right now stays in slirp's own TCP buffers (its
	 * window slows the guest) or is dropped with an ICMP error (UDP). */
	slirp_input(n->slirp, n->txbuf, (int)len);
	/* The frame may have opened a socket that must be watched. */
	nat_kick(n);
	return 0;
}

static void nat_rx_ready(struct net_backend *be)
{
	struct nat *n = (struct nat *)be;

	while (n->qlen) {
		struct nat_frame *f = n->queue[n->qhead];
		struct iovec iov = {.iov_base = f->data, .iov_len = f->len};

		if (!n->client.receive(n->client.ctx, &iov, 1))
			return;
		free(f);
		n->qhead = (n->qhead + 1) % NAT_QUEUE_MAX;
		n->qlen--;
	}
	set_blocked(n, false);
}

static void nat_stop(struct net_backend *be)
{
	struct nat *n = (struct nat *)be;

	if (!n->running)
		return;
	n->running = false;
	evloop_del_fd(n->io, n->epfd);
	evloop_del_fd(n->io, n->tickfd);
	evloop_del_fd(n->io, n->kickfd);
	for (struct nat_timer *t = n->timers; t; t = t->next)
		if (t->watched) {
			evloop_del_fd(n->io, t->fd);
			t->watched = false;
		}
}

static void nat_destroy(struct net_backend *be)
{
	struct nat *n = (struct nat *)be;

	if (!n)
		return;
	nat_stop(be);
	if (n->slirp)
		slirp_cleanup(n->slirp);
	while (n->timers)
		timer_free(n->timers, n);
	while (n->qlen) {
		free(n->queue[n->qhead]);
		n->qhead = (n->qhead + 1) % NAT_QUEUE_MAX;
		n->qlen--;
	}
	if (n->epfd >= 0)
		close(n->epfd);
	if (n->tickfd >= 0)
		close(n->tickfd);
	if (n->kickfd >= 0)
		close(n->kickfd);
	free(n->pfd);
	free(n->watched);
	free(n->wanted_in);
	free(n);
}

static const struct net_backend_ops nat_ops = {
    .name = "nat",
    .start = nat_start,
    .send = nat_send,
    .rx_ready = nat_rx_ready,
    .stop = nat_stop,
    .destroy = nat_destroy,
};

static bool add_forwards(struct nat *n, const struct nat_config *c, const char *field, vmk_error **err)
{
	struct in_addr guest = nat_addr(c, NAT_GUEST_HOST);

	for (unsigned i = 0; i < c->nforwards; i++) {
		const struct nat_forward *f = &c->forwards[i];
		struct in_addr host = {.s_addr = htonl(f->host_addr)};
		char addr[INET_ADDRSTRLEN];

		errno = 0;
		if (slirp_add_hostfwd(n->slirp, f->udp, host, f->host_port, guest, f->guest_port) == 0)
			continue;
		inet_ntop(AF_INET, &host, addr, sizeof(addr));
		return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno ? errno : EADDRINUSE,
				     "%s: port forward %s %s:%u to guest port %u", field,
				     f->udp ? "udp" : "tcp", addr, f->host_port, f->guest_port);
	}
	return true;
}

struct net_backend *nat_backend_new(const struct nat_config *c, const char *field, vmk_error **err)
{
	struct nat *n = calloc(1, sizeof(*n));
	SlirpConfig cfg = {
	    .version = 4,
	    .restricted = !c->outbound,
	    .in_enabled = true,
	    .vnetwork = nat_addr(c, 0),
	    .vnetmask = nat_netmask(c),
	    .vhost = nat_addr(c, NAT_GATEWAY_HOST),
	    .vhostname = "vmkit",
	    .vdhcp_start = nat_addr(c, NAT_GUEST_HOST),
	    .vnameserver = nat_addr(c, NAT_DNS_HOST),
	    .if_mtu = NAT_MTU,
	    .if_mru = NAT_MTU,
	};

	if (!n)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field), NULL;
	n->be.ops = &nat_ops;
	n->be.mtu = NAT_MTU;
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	n->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	n->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->epfd < 0 || n->tickfd < 0 || n->kickfd < 0) {
		vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno, "%s: NAT event descriptors",
			      field);
		goto fail;
	}
	n->slirp = slirp_new(&cfg, &nat_callbacks, n);
	if (!n->slirp) {
		char addr[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &cfg.vnetwork, addr, sizeof(addr));
		vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
			      "%s: libslirp refused the network %s/%u", field, addr, c->prefix);
		goto fail;
	}
	if (!add_forwards(n, c, field, err))
		goto fail;
	return &n->be;
fail:
	nat_destroy(&n->be);
	return NULL;
}
