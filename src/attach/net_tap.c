/* TAP network attachments (beyond Apple's entitlement-gated bridging): an
 * existing TAP interface, or a new one added to a host bridge. The TAP
 * carries the virtio-net header (IFF_VNET_HDR, 12 bytes), so checksum and
 * segmentation offloads pass through untouched. Frames go through the I/O
 * thread, or, while vhost-net has the fd (vhost_handover), through the
 * kernel without us.
 *
 * The interface's removal is seen on a route netlink socket (RTM_DELLINK
 * for its index): while vhost-net reads the TAP we do not, and the wakeup
 * the TAP gives on removal is a readable one, which an fd watched for
 * nothing else never reports. Reads and writes failing with EBADFD stay as
 * the fallback. A write the TAP cannot take yet (EAGAIN: its socket send
 * buffer is full) is not dropped: send says -EAGAIN and tx_ready follows
 * once the TAP is writable, as on the file-handle attachment. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_bridge.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "attach/net.h"
#include "config/network_priv.h"
#include "core/vnet_hdr.h"
#include "util/error_priv.h"

#define TAP_BUF (NET_HDR_LEN + NET_MAX_GSO_FRAME)

struct net_tap {
	struct net_backend be;
	int fd, nl_fd;
	unsigned ifindex;
	char ifname[IFNAMSIZ];
	struct evloop *io;
	struct net_backend_client client;
	bool watching, nl_watching, paused, down, kernel;
	bool tx_blocked; /* a send said -EAGAIN; tx_ready is owed */
	size_t pending;
	uint8_t buf[TAP_BUF];
};

static void unwatch(struct net_tap *t)
{
	if (t->watching)
		evloop_del_fd(t->io, t->fd);
	t->watching = false;
	if (t->nl_watching)
		evloop_del_fd(t->io, t->nl_fd);
	t->nl_watching = false;
}

/* One epoll registration for the TAP: frames to read unless the guest is
 * out of buffers, room to write while a send waits; nothing (but errors)
 * while vhost-net owns the frames. */
static void watch(struct net_tap *t)
{
	uint32_t ev = (t->paused ? 0 : EPOLLIN) | (t->tx_blocked ? EPOLLOUT : 0);

	if (t->watching && !t->down)
		evloop_mod_fd(t->io, t->fd, t->kernel ? 0 : ev);
}

static void disconnect(struct net_tap *t)
{
	bool owed = t->tx_blocked;

	if (t->down)
		return;
	t->down = true;
	t->pending = 0;
	t->tx_blocked = false;
	unwatch(t);
	if (t->client.link_changed)
		t->client.link_changed(t->client.ctx, false);
	/* The waiting frames now fail with -ENOTCONN (dropped, link down). */
	if (owed && t->client.tx_ready)
		t->client.tx_ready(t->client.ctx);
}

static void drain(struct net_tap *t)
{
	for (int budget = 256; budget > 0 && !t->down; budget--) {
		if (!t->pending) {
			ssize_t n = read(t->fd, t->buf, sizeof(t->buf));

			if (n < 0) {
				/* The interface was deleted under us. */
				if (errno == EBADFD || errno == ENODEV)
					disconnect(t);
				return;
			}
			if ((size_t)n <= NET_HDR_LEN)
				continue;
			t->pending = (size_t)n;
		}
		struct iovec iov = {t->buf, t->pending};
		if (!t->client.receive(t->client.ctx, &iov, 1)) {
			t->paused = true;
			watch(t);
			return;
		}
		t->pending = 0;
	}
}

static void tap_event(void *ctx, uint32_t events)
{
	struct net_tap *t = ctx;

	/* vhost reads the frames; only the interface's removal is ours. */
	if (t->kernel) {
		if (events & (EPOLLERR | EPOLLHUP))
			disconnect(t);
		return;
	}
	if (t->tx_blocked && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		t->tx_blocked = false;
		watch(t);
		if (t->client.tx_ready)
			t->client.tx_ready(t->client.ctx);
	}
	if (!t->down && (!t->paused || (events & (EPOLLERR | EPOLLHUP))))
		drain(t);
	if (!t->down && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
		disconnect(t);
}

/* Link notifications: only the deletion of our interface matters. A port
 * leaving a bridge is announced with family AF_BRIDGE and is not one. */
static void nl_event(void *ctx, uint32_t events)
{
	struct net_tap *t = ctx;
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	(void)events;

	for (int budget = 64; budget > 0 && !t->down; budget--) {
		ssize_t n = recv(t->nl_fd, buf, sizeof(buf), 0);
		if (n < 0) {
			/* Lost notifications (ENOBUFS): ask the TAP itself. */
			struct ifreq ifr;
			if (errno == ENOBUFS && ioctl(t->fd, TUNGETIFF, &ifr) < 0 && errno == EBADFD)
				disconnect(t);
			return;
		}
		/* Walked by hand: the NLMSG_OK/NEXT macros mix signed and unsigned. */
		size_t len = (size_t)n, off = 0;
		while (off < len && len - off >= sizeof(struct nlmsghdr)) {
			const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len - off)
				break;
			if (h->nlmsg_type == RTM_DELLINK &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
				const struct ifinfomsg *ifi = NLMSG_DATA(h);
				if (ifi->ifi_family != AF_BRIDGE && ifi->ifi_index > 0 &&
				    (unsigned)ifi->ifi_index == t->ifindex)
					disconnect(t);
			}
			off += NLMSG_ALIGN(h->nlmsg_len);
		}
	}
}

static int tap_start(struct net_backend *be, struct evloop *io, const struct net_backend_client *client)
{
	struct net_tap *t = (struct net_tap *)be;
	int r;

	t->io = io;
	t->client = *client;
	r = evloop_add_fd(io, t->fd, EPOLLIN, tap_event, t);
	t->watching = r == 0;
	if (r == 0 && t->nl_fd >= 0)
		t->nl_watching = evloop_add_fd(io, t->nl_fd, EPOLLIN, nl_event, t) == 0;
	return r;
}

static int tap_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct net_tap *t = (struct net_tap *)be;

	if (t->down)
		return -ENOTCONN;
	if (writev(t->fd, iov, (int)n) >= 0)
		return 0;
	int e = errno;
	if (e == EBADFD || e == ENODEV) {
		disconnect(t);
		return -e;
	}
	/* EIO: the interface is administratively down (`ip link set down`),
	 * not gone: this frame is dropped, as on a switch port that is off,
	 * and frames flow again once it is up. Removal is RTM_DELLINK's. */
	if (e == EIO)
		return -e;
	/* Only the TAP socket's send buffer makes a write wait. It is made
	 * unlimited at open (TUNSETSNDBUF, unchecked there), so this is rare;
	 * when it happens the frame waits instead of being dropped. */
	if (e == EAGAIN || e == EWOULDBLOCK) {
		if (!t->tx_blocked) {
			t->tx_blocked = true;
			watch(t);
		}
		return -EAGAIN;
	}
	return -e;
}

static void tap_rx_ready(struct net_backend *be)
{
	struct net_tap *t = (struct net_tap *)be;

	if (!t->paused || t->down || t->kernel)
		return;
	t->paused = false;
	watch(t);
	drain(t);
}

/* The kernel hands the guest only what its driver negotiated. */
static void tap_set_offloads(struct net_backend *be, uint64_t f)
{
	struct net_tap *t = (struct net_tap *)be;
	unsigned off = 0;

	if (f & 1ull << VIRTIO_NET_F_GUEST_CSUM) {
		off |= TUN_F_CSUM;
		if (f & 1ull << VIRTIO_NET_F_GUEST_TSO4)
			off |= TUN_F_TSO4;
		if (f & 1ull << VIRTIO_NET_F_GUEST_TSO6)
			off |= TUN_F_TSO6;
	}
	ioctl(t->fd, TUNSETOFFLOAD, off);
}

static int tap_vhost_fd(struct net_backend *be)
{
	return ((struct net_tap *)be)->fd;
}

static void tap_vhost_handover(struct net_backend *be, bool to_kernel)
{
	struct net_tap *t = (struct net_tap *)be;

	t->kernel = to_kernel;
	/* A frame held for want of buffers is dropped: the rings change hands.
	 * So does a wait for room: the device forgot its blocked send. */
	t->pending = 0;
	t->paused = false;
	t->tx_blocked = false;
	watch(t);
	if (!to_kernel)
		drain(t);
}

static void tap_stop(struct net_backend *be)
{
	unwatch((struct net_tap *)be);
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *t = (struct net_tap *)be;

	if (t->nl_fd >= 0)
		close(t->nl_fd);
	close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
    .name = "tap",
    .start = tap_start,
    .send = tap_send,
    .rx_ready = tap_rx_ready,
    .set_offloads = tap_set_offloads,
    .vhost_fd = tap_vhost_fd,
    .vhost_handover = tap_vhost_handover,
    .stop = tap_stop,
    .destroy = tap_destroy,
};

/* Brings the new TAP up and enslaves it to the bridge. */
static bool add_to_bridge(struct net_tap *t, const char *br, const char *field, vmk_error **err)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	bool ok = false;

	if (s < 0)
		return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno, "%s: socket", field);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", t->ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", br);
	ifr.ifr_ifindex = (int)if_nametoindex(t->ifname);
	if (ioctl(s, SIOCBRADDIF, &ifr) == 0)
		ok = true;
	else if (errno == EPERM)
		vmk_set_error(
		    err, VMK_ERR_NETWORK_ATTACHMENT, field,
		    "%s: adding %s to bridge %s needs CAP_NET_ADMIN, which this process does not have", field,
		    t->ifname, br);
	else if (errno == ENODEV)
		vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
			      "%s: bridge %s does not exist on this host", field, br);
	else if (errno == EOPNOTSUPP || errno == EINVAL)
		vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field, "%s: %s is not a bridge", field, br);
	else
		vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno, "%s: cannot add %s to bridge %s",
			      field, t->ifname, br);
	close(s);
	return ok;
}

struct net_backend *net_tap_open(const struct vmk_network_attachment *a, const char *field, vmk_error **err)
{
	bool bridge = a->kind == NET_ATTACH_BRIDGE;
	struct ifreq ifr = {0};
	int hdr = NET_HDR_LEN;
	struct net_tap *t;

	if (!net_attachment_check(a, field, err))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field);
		return NULL;
	}
	t->nl_fd = -1;
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0) {
		vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno, "%s: cannot open /dev/net/tun",
			      field);
		free(t);
		return NULL;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (!bridge)
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", a->ifname);
	if (ioctl(t->fd, TUNSETIFF, &ifr) != 0) {
		if (errno == EPERM)
			vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				      "%s: %s needs CAP_NET_ADMIN (or owning the TAP interface), which this "
				      "process does not have",
				      field, bridge ? "creating a TAP interface" : a->ifname);
		else if (errno == EBUSY)
			vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				      "%s: TAP interface %s is in use by another process", field, a->ifname);
		else if (errno == EINVAL && !bridge)
			vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field, "%s: %s is not a TAP interface",
				      field, a->ifname);
		else
			vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno,
				      "%s: cannot attach to TAP interface %s", field,
				      bridge ? "(new)" : a->ifname);
		goto fail;
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
	t->ifname[IFNAMSIZ - 1] = '\0';
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) != 0 || ioctl(t->fd, TUNSETOFFLOAD, 0) != 0) {
		vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno,
			      "%s: TAP interface %s does not take virtio-net headers", field, t->ifname);
		goto fail;
	}
	/* The socket's default send buffer (wmem_default, ~200 KiB) holds three
	 * 64 KiB TSO frames: guest-to-host throughput would stall on it, with or
	 * without vhost. Unlimited, as QEMU does; the queues bound what is in
	 * flight. */
	int sndbuf = INT_MAX;
	ioctl(t->fd, TUNSETSNDBUF, &sndbuf);
	if (bridge && !add_to_bridge(t, a->ifname, field, err))
		goto fail;
	t->ifindex = if_nametoindex(t->ifname);
	t->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	if (t->nl_fd >= 0 && (!t->ifindex || bind(t->nl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
		close(t->nl_fd); /* removal is then only seen through the TAP's own fd */
		t->nl_fd = -1;
	}
	t->be = (struct net_backend){.ops = &tap_ops, .vnet_hdr = true, .mtu = 1500};
	return &t->be;
fail:
	close(t->fd);
	free(t);
	return NULL;
}
