/* Unit tests of networking: MAC parsing and defaults, attachment checks
 * (socket type, connection, MTU limits, missing bridge), configuration
 * copies and validation, and the file-handle backend's transmit
 * backpressure on a socketpair whose peer does not read. */
#include "../unit/check.h"
#include "attach/net.h"
#include "config/network_priv.h"
#include "virtio/net.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

static void test_mac(void)
{
	static const char *const bad[] = {
	    "",
	    "52:54:00:12:34",
	    "52:54:00:12:34:5",
	    "52:54:00:12:34:567",
	    "52:54:00:12:34:56:",
	    "5254.0012.3456",
	    "01:00:5e:00:00:01",
	    "ff:ff:ff:ff:ff:ff",
	    "00:00:00:00:00:00",
	    "52:54-00:12:34:56",
	    "g2:54:00:12:34:56",
	    "52:54:00:12:34:5g",
	    "52::54:00:12:34:56",
	};
	uint8_t m[6];
	char buf[18];

	CHECK(net_mac_parse("52:54:00:12:34:56", m) == NULL && m[0] == 0x52 && m[5] == 0x56,
	      "plain MAC parses");
	CHECK(net_mac_parse("02-AB-cd-EF-00-01", m) == NULL && m[1] == 0xab && m[3] == 0xef,
	      "dashes, mixed case");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(net_mac_parse(bad[i], m) != NULL, "\"%s\" refused", bad[i]);
	CHECK(net_mac_parse(NULL, m) != NULL, "NULL refused");
	net_mac_format((const uint8_t[]){0x52, 0x54, 0, 0xa, 0xbc, 0xff}, buf);
	CHECK(strcmp(buf, "52:54:00:0a:bc:ff") == 0, "format: %s", buf);
	int good = 0;
	for (int i = 0; i < 64; i++) {
		net_mac_random(m);
		good += (m[0] & 3) == 2 && net_mac_parse((net_mac_format(m, buf), buf), m) == NULL;
	}
	CHECK(good == 64, "random MACs are unicast and locally administered (%d/64)", good);
}

static void test_attachments(void)
{
	vmk_network_attachment *a;
	vmk_error *err = NULL;
	int sp[2], st[2];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == 0, "socketpair");
	a = vmk_fd_network_attachment_new(sp[0], &err);
	CHECK(a && !err, "datagram socketpair accepted");
	CHECK(vmk_fd_network_attachment_get_mtu(a) == 1500, "default MTU 1500");
	CHECK(!vmk_fd_network_attachment_set_mtu(a, 1499, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_NETWORK_ATTACHMENT &&
		  strstr(vmk_error_get_message(err), "1499"),
	      "MTU 1499 refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_fd_network_attachment_set_mtu(a, 65536, NULL), "MTU 65536 refused");
	CHECK(vmk_fd_network_attachment_set_mtu(a, 1500, NULL) &&
		  vmk_fd_network_attachment_set_mtu(a, 65535, NULL),
	      "MTU 1500 and 65535 accepted");
	CHECK(vmk_fd_network_attachment_get_mtu(a) == 65535, "MTU kept");
	vmk_network_attachment *c = vmk_network_attachment_copy(a);
	CHECK(c && vmk_fd_network_attachment_get_mtu(c) == 65535, "copy keeps the MTU");
	vmk_network_attachment_free(c);
	vmk_network_attachment_free(a);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0, "stream socketpair");
	CHECK(!vmk_fd_network_attachment_new(st[0], &err) && strstr(vmk_error_get_message(err), "datagram"),
	      "stream socket refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	int unconn = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(!vmk_fd_network_attachment_new(unconn, &err) &&
		  strstr(vmk_error_get_message(err), "not connected"),
	      "unconnected socket refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_fd_network_attachment_new(-1, &err) && vmk_error_get_code(err) == VMK_ERR_INVALID_ARGUMENT,
	      "fd -1 refused");
	vmk_error_free(err);
	err = NULL;
	int fds[2];
	CHECK(pipe(fds) == 0 && !vmk_fd_network_attachment_new(fds[0], &err) &&
		  strstr(vmk_error_get_message(err), "not a socket"),
	      "pipe refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;

	CHECK(!vmk_bridge_network_attachment_new("vmkno-br0", &err) &&
		  strstr(vmk_error_get_message(err), "bridge vmkno-br0 does not exist"),
	      "missing bridge: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_tap_network_attachment_new("vmkno-tap0", &err) &&
		  strstr(vmk_error_get_message(err), "does not exist"),
	      "missing TAP: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_tap_network_attachment_new("a-name-far-too-long-for-linux", &err) &&
		  strstr(vmk_error_get_message(err), "longer than"),
	      "long name: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_bridge_network_attachment_new("../x", &err), "path-like name refused");
	vmk_error_free(err);
	close(sp[0]);
	close(sp[1]);
	close(st[0]);
	close(st[1]);
	close(unconn);
	close(fds[0]);
	close(fds[1]);
}

static void test_config(void)
{
	vmk_config *cfg = vmk_config_new();
	vmk_network_attachment *a;
	vmk_network_device *d;
	vmk_error *err = NULL;
	char m1[18], m2[18];
	int sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0, "seqpacket socketpair");
	a = vmk_fd_network_attachment_new(sp[0], NULL);
	CHECK(a != NULL, "seqpacket accepted");
	d = vmk_virtio_network_device_new(a);
	CHECK(d && !vmk_network_device_get_mac(d, m1), "no MAC before it is added");
	CHECK(!vmk_virtio_network_device_set_mac(d, "01:02:03:04:05:06", &err) &&
		  vmk_error_get_code(err) == VMK_ERR_MAC_ADDRESS &&
		  strstr(vmk_error_get_message(err), "multicast"),
	      "multicast MAC refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(vmk_config_add_network_device(cfg, d, NULL), "added");
	CHECK(vmk_config_add_network_device(cfg, d, NULL), "added twice");
	CHECK(cfg->network_count == 2 && cfg->network[0]->mac_set, "random MAC chosen");
	net_mac_format(cfg->network[0]->mac, m1);
	net_mac_format(cfg->network[1]->mac, m2);
	CHECK(strcmp(m1, m2) != 0, "two devices, two MACs: %s %s", m1, m2);
	CHECK((cfg->network[0]->mac[0] & 3) == 2, "locally administered unicast: %s", m1);
	vmk_config *copy = vmk_config_copy(cfg);
	CHECK(copy && copy->network_count == 2 && memcmp(copy->network[0]->mac, cfg->network[0]->mac, 6) == 0,
	      "a copy keeps the MAC");
	CHECK(vmk_virtio_network_device_set_mac(d, "52:54:00:00:00:01", NULL), "set MAC");
	for (int i = 2; i < 8; i++)
		vmk_config_add_network_device(cfg, d, NULL);
	CHECK(!vmk_config_add_network_device(cfg, d, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED,
	      "at most 8 devices");
	vmk_error_free(err);
	err = NULL;
	vmk_config_free(cfg);

	/* The peer goes away between configuration and start. */
	vmk_error *verr = NULL;
	close(sp[1]);
	close(sp[0]);
	net_attachment_check(copy->network[0]->attachment, "network_devices[0].attachment", &verr);
	CHECK(verr == NULL || strstr(vmk_error_get_message(verr), "network_devices[0]"),
	      "check names the device: %s", verr ? vmk_error_get_message(verr) : "(still connected)");
	vmk_error_free(verr);
	vmk_config_free(copy);
	vmk_network_device_free(d);
	vmk_network_attachment_free(a);
}

/* Guest RAM and one split queue the test drives as the driver would. */
#define QSIZE 16
#define RING  0x100000ull
#define DATA  0x200000ull
static struct gmem mem;
static struct virtq vq;
static uint16_t next_desc, avail_idx, used_seen;

static void *g(uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&mem, gpa, len);
}

static void q_reset(bool event_idx)
{
	memset(g(RING, 0x3000), 0, 0x3000);
	next_desc = avail_idx = used_seen = 0;
	CHECK(virtq_init(&vq, &mem, QSIZE, RING, RING + 0x1000, RING + 0x2000, event_idx, false) == 0,
	      "queue");
}

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static void drv_add(const struct buf *b, unsigned n)
{
	uint16_t head = next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE), next = (uint16_t)((idx + 1) % QSIZE);
		uint16_t flags = (b[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		uint8_t *d = g(RING + 16ull * idx, 16);

		memcpy(d, &b[i].gpa, 8);
		memcpy(d + 8, &b[i].len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
	}
	next_desc = (uint16_t)((head + n) % QSIZE);
	uint8_t *avail = g(RING + 0x1000, 4 + 2 * QSIZE);
	memcpy(avail + 4 + 2 * (avail_idx % QSIZE), &head, 2);
	avail_idx++;
	memcpy(avail + 2, &avail_idx, 2);
}

static bool drv_used(uint32_t *id, uint32_t *len)
{
	uint8_t *used = g(RING + 0x2000, 4 + 8 * QSIZE);
	uint16_t idx;

	memcpy(&idx, used + 2, 2);
	if (idx == used_seen)
		return false;
	memcpy(id, used + 4 + 8 * (used_seen % QSIZE), 4);
	memcpy(len, used + 8 + 8 * (used_seen % QSIZE), 4);
	used_seen++;
	return true;
}

static int pop_tx(const struct buf *b, unsigned n, const struct net_limits *lim, struct net_tx *tx)
{
	static struct virtq_elem e;

	q_reset(false);
	drv_add(b, n);
	if (virtq_pop(&vq, &e) != 1)
		return -100;
	return net_tx_parse(&e, lim, tx);
}

static void test_tx(void)
{
	static struct net_tx tx;
	struct net_limits plain = {.max_frame = 1518}, tap = {.vnet_hdr = true, .max_frame = 1518};
	struct virtio_net_hdr *h = g(DATA, 12);

	tap.features = 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_HOST_TSO4;
	memset(g(DATA, 0x20000), 0xab, 0x20000);
	memset(h, 0, 12);
	/* Header split over two descriptors, frame in a third. */
	struct buf split[] = {{DATA, 5, false}, {DATA + 5, 7 + 20, false}, {DATA + 0x1000, 40, false}};
	CHECK(pop_tx(split, 3, &plain, &tx) == 0 && tx.frame_len == 60 && tx.niov == 2 &&
		  tx.iov[0].iov_base == g(DATA + 12, 1) && tx.iov[0].iov_len == 20,
	      "split header stripped: %zu bytes in %u iovecs", tx.frame_len, tx.niov);
	CHECK(pop_tx(split, 3, &tap, &tx) == 0 && tx.niov == 3 && tx.iov[0].iov_base == &tx.hdr,
	      "vnet_hdr backend gets a host copy of the header first");
	/* A TAP plugged in at run time behind a device without offloads: the
	 * driver's header fields that mean nothing here never reach it. */
	struct net_limits late_tap = {.plain_hdr = true, .max_frame = 1518};
	static const struct virtio_net_hdr zero;
	h->hdr_len = 0x1234;
	h->csum_start = 7;
	CHECK(pop_tx(split, 3, &late_tap, &tx) == 0 && tx.niov == 3 && tx.iov[0].iov_base == &tx.hdr &&
		  tx.iov[0].iov_len == 12 && !memcmp(&tx.hdr, &zero, 12),
	      "plain_hdr backend gets a zeroed header first");
	memset(h, 0, 12);
	struct buf shorty[] = {{DATA, 12 + 13, false}};
	CHECK(pop_tx(shorty, 1, &plain, &tx) == -EINVAL, "frame shorter than an Ethernet header dropped");
	struct buf hdr_only[] = {{DATA, 11, false}};
	CHECK(pop_tx(hdr_only, 1, &plain, &tx) == -EINVAL, "short header dropped");
	struct buf big[] = {{DATA, 12 + 1519, false}};
	CHECK(pop_tx(big, 1, &plain, &tx) == -EINVAL, "frame above the MTU dropped");
	big[0].len = 12 + 1518;
	CHECK(pop_tx(big, 1, &plain, &tx) == 0, "frame at the MTU (with VLAN tag) sent");
	struct buf wr[] = {{DATA, 12 + 60, false}, {DATA + 0x1000, 16, true}};
	CHECK(pop_tx(wr, 2, &plain, &tx) == -EINVAL, "writable buffer in a transmit chain dropped");

	struct buf f[] = {{DATA, 12 + 100, false}};
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = 34;
	h->csum_offset = 16;
	CHECK(pop_tx(f, 1, &plain, &tx) == -EINVAL, "checksum offload without vnet_hdr dropped");
	CHECK(pop_tx(f, 1, &tap, &tx) == 0, "checksum offload within the frame sent");
	h->csum_start = 90;
	CHECK(pop_tx(f, 1, &tap, &tx) == -EINVAL, "checksum offset beyond the frame dropped");
	h->csum_start = 0xffff;
	h->csum_offset = 0xffff;
	CHECK(pop_tx(f, 1, &tap, &tx) == -EINVAL, "csum_start + offset overflow dropped");
	h->csum_start = 34;
	h->csum_offset = 16;
	h->flags = 0x80;
	CHECK(pop_tx(f, 1, &tap, &tx) == -EINVAL, "unknown flag dropped");
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = 1448;
	h->hdr_len = 54;
	struct buf tso[] = {{DATA, 12 + 0x10000, false}};
	CHECK(pop_tx(tso, 1, &tap, &tx) == 0 && tx.frame_len == 0x10000, "TSO4 frame of 64 KiB sent");
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	CHECK(pop_tx(tso, 1, &tap, &tx) == -EINVAL, "TSO6 not negotiated: dropped");
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	CHECK(pop_tx(tso, 1, &tap, &tx) == -EINVAL, "ECN not negotiated: dropped");
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = 0;
	CHECK(pop_tx(tso, 1, &tap, &tx) == -EINVAL, "GSO without segment size dropped");
	h->gso_size = 1448;
	tso[0].len = 12 + NET_MAX_GSO_FRAME + 1;
	CHECK(pop_tx(tso, 1, &tap, &tx) == -EINVAL, "GSO frame above 64 KiB dropped");
	h->gso_type = 3;
	tso[0].len = 12 + 1000;
	CHECK(pop_tx(tso, 1, &tap, &tx) == -EINVAL, "unknown GSO type dropped");
	memset(h, 0, 12);
}

static void test_rx(void)
{
	static struct net_rx_scratch s;
	static uint8_t frame[4000];
	struct virtio_net_hdr hdr = {.num_buffers = 1}, got;
	struct iovec iov[2] = {{frame, 1000}, {frame + 1000, 3000}};
	uint32_t id, len;

	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	/* Mergeable: 1500-byte buffers, a 4000-byte frame takes three. */
	q_reset(true);
	for (int i = 0; i < 4; i++)
		drv_add(&(struct buf){DATA + 0x1000ull * i, 1500, true}, 1);
	CHECK(net_rx_deliver(&vq, true, &hdr, iov, 2, 4000, &s) == 1, "frame delivered");
	memcpy(&got, g(DATA, 12), 12);
	CHECK(got.num_buffers == 3, "num_buffers %u", got.num_buffers);
	CHECK(memcmp(g(DATA + 12, 1488), frame, 1488) == 0 &&
		  memcmp(g(DATA + 0x1000, 1500), frame + 1488, 1500) == 0 &&
		  memcmp(g(DATA + 0x2000, 1012), frame + 2988, 1012) == 0,
	      "frame bytes in order across buffers");
	CHECK(drv_used(&id, &len) && id == 0 && len == 1500, "first buffer: %u bytes", len);
	CHECK(drv_used(&id, &len) && id == 1 && len == 1500, "second buffer");
	CHECK(drv_used(&id, &len) && id == 2 && len == 1012, "third buffer: %u bytes", len);
	CHECK(!drv_used(&id, &len), "fourth buffer left for the next frame");

	/* Too few buffers: nothing consumed, and the same buffers serve later. */
	CHECK(net_rx_deliver(&vq, true, &hdr, iov, 2, 4000, &s) == 0 && !drv_used(&id, &len),
	      "not enough buffers: frame kept, no buffer used");
	for (int i = 4; i < 6; i++)
		drv_add(&(struct buf){DATA + 0x1000ull * i, 1500, true}, 1);
	CHECK(net_rx_deliver(&vq, true, &hdr, iov, 2, 4000, &s) == 1, "delivered once buffers came");
	CHECK(drv_used(&id, &len) && id == 3, "the buffer given back is reused first");

	/* Without mergeable buffers a frame needs one big buffer. */
	q_reset(false);
	drv_add(&(struct buf){DATA, 1500, true}, 1);
	CHECK(net_rx_deliver(&vq, false, &hdr, iov, 2, 4000, &s) == 1 && !drv_used(&id, &len),
	      "too big for the buffer: dropped, buffer kept");
	CHECK(net_rx_deliver(&vq, false, &hdr, iov, 1, 1000, &s) == 1 && drv_used(&id, &len) && len == 1012,
	      "small frame fits: %u", len);

	/* Hostile buffers. */
	q_reset(false);
	drv_add(&(struct buf){DATA, 8, true}, 1);
	CHECK(net_rx_deliver(&vq, true, &hdr, iov, 1, 100, &s) == -EINVAL, "buffer smaller than the header");
	q_reset(false);
	drv_add(&(struct buf){DATA, 100, false}, 1);
	CHECK(net_rx_deliver(&vq, true, &hdr, iov, 1, 100, &s) == -EINVAL, "read-only receive buffer");
	/* Tiny mergeable buffers: the frame can never fit the queue. */
	q_reset(false);
	for (int i = 0; i < QSIZE; i++)
		drv_add(&(struct buf){DATA + 0x100ull * i, 16, true}, 1);
	CHECK(net_rx_deliver(&vq, true, &hdr, iov, 2, 4000, &s) == 1 && !drv_used(&id, &len),
	      "frame larger than the whole queue dropped");
}

static void test_ctrl(void)
{
	uint64_t f = 1ull << VIRTIO_NET_F_CTRL_VQ | 1ull << VIRTIO_NET_F_CTRL_RX;
	uint8_t cmd[2 + 8 + 6 * 3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1};
	uint32_t n;

	CHECK(net_ctrl_handle(cmd, 3, f) == VIRTIO_NET_OK, "promisc on");
	CHECK(net_ctrl_handle(cmd, 3, 0) == VIRTIO_NET_ERR, "CTRL_RX not negotiated");
	CHECK(net_ctrl_handle(cmd, 4, f) == VIRTIO_NET_ERR, "promisc with trailing bytes");
	CHECK(net_ctrl_handle(cmd, 1, f) == VIRTIO_NET_ERR, "one byte");
	cmd[1] = 9;
	CHECK(net_ctrl_handle(cmd, 3, f) == VIRTIO_NET_ERR, "unknown rx command");
	cmd[0] = VIRTIO_NET_CTRL_MAC;
	cmd[1] = VIRTIO_NET_CTRL_MAC_TABLE_SET;
	n = 1;
	memcpy(cmd + 2, &n, 4);
	n = 2;
	memcpy(cmd + 12, &n, 4);
	CHECK(net_ctrl_handle(cmd, sizeof(cmd), f) == VIRTIO_NET_OK, "MAC tables 1 + 2");
	CHECK(net_ctrl_handle(cmd, sizeof(cmd) - 1, f) == VIRTIO_NET_ERR, "multicast table cut short");
	n = 0xffffffff;
	memcpy(cmd + 12, &n, 4);
	CHECK(net_ctrl_handle(cmd, sizeof(cmd), f) == VIRTIO_NET_ERR, "huge entry count");
	cmd[0] = 77;
	CHECK(net_ctrl_handle(cmd, sizeof(cmd), f) == VIRTIO_NET_ERR, "unknown class");
}

/* The file-handle backend driven as virtio-net drives it, on its loop. */
struct fdc {
	struct net_backend *be;
	struct evloop *io;
	atomic_int tx_ready, received, link_down;
	atomic_bool refuse; /* receive says "no room" */
	uint8_t frame[64];
	int res;
};

static bool fdc_receive(void *ctx, const struct iovec *iov, unsigned n)
{
	struct fdc *c = ctx;
	(void)iov;
	(void)n;
	if (atomic_load(&c->refuse))
		return false;
	atomic_fetch_add(&c->received, 1);
	return true;
}

static void fdc_link(void *ctx, bool up)
{
	struct fdc *c = ctx;
	if (!up)
		atomic_fetch_add(&c->link_down, 1);
}

static void fdc_tx_ready(void *ctx)
{
	struct fdc *c = ctx;
	atomic_fetch_add(&c->tx_ready, 1);
}

static void fdc_start(void *ctx)
{
	struct fdc *c = ctx;
	struct net_backend_client cl = {
	    .ctx = c, .receive = fdc_receive, .link_changed = fdc_link, .tx_ready = fdc_tx_ready};
	c->res = c->be->ops->start(c->be, c->io, &cl);
}

static void fdc_send(void *ctx)
{
	struct fdc *c = ctx;
	struct iovec iov = {c->frame, sizeof(c->frame)};
	c->res = c->be->ops->send(c->be, &iov, 1);
}

static void fdc_rx_ready(void *ctx)
{
	struct fdc *c = ctx;
	c->be->ops->rx_ready(c->be);
}

static void fdc_stop(void *ctx)
{
	struct fdc *c = ctx;
	c->be->ops->stop(c->be);
}

/* Waits up to ten seconds for *v to reach want (a loaded CI host, ASan). */
static bool wait_int(atomic_int *v, int want)
{
	for (int i = 0; i < 2000 && atomic_load(v) < want; i++)
		nanosleep(&(struct timespec){0, 5000000}, NULL);
	return atomic_load(v) >= want;
}

/* Sends until the socket refuses; returns how many went, -1 on another error. */
static int fill(struct fdc *c)
{
	for (int n = 0; n < 4096; n++) {
		evloop_call(c->io, fdc_send, c);
		if (c->res == -EAGAIN)
			return n;
		if (c->res != 0)
			return -1;
	}
	return -1;
}

static int drain_peer(int fd)
{
	uint8_t buf[128];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

static void test_fd_backpressure(int type)
{
	const char *tn = type == SOCK_SEQPACKET ? "seqpacket" : "dgram";
	struct fdc c = {.io = evloop_new()};
	int sp[2], tiny = 1;

	CHECK(socketpair(AF_UNIX, type, 0, sp) == 0, "%s socketpair", tn);
	/* The kernel rounds this up to its minimum: a few frames fit. */
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &tiny, sizeof(tiny));
	vmk_network_attachment *a = vmk_fd_network_attachment_new(sp[0], NULL);
	c.be = a ? net_fd_open(a, "test", NULL) : NULL;
	vmk_network_attachment_free(a);
	close(sp[0]);
	if (!c.be || !c.io) {
		CHECK(false, "%s: backend opened", tn);
		return;
	}
	evloop_call(c.io, fdc_start, &c);
	CHECK(c.res == 0, "%s: started", tn);

	int sent = fill(&c);
	CHECK(sent > 0, "%s: %d frames taken, then -EAGAIN (not a drop)", tn, sent);
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	CHECK(atomic_load(&c.tx_ready) == 0, "%s: no tx_ready while the peer does not read", tn);

	/* Frames still come in while a send waits: one watch, both wants. */
	CHECK(send(sp[1], c.frame, sizeof(c.frame), 0) == sizeof(c.frame) && wait_int(&c.received, 1),
	      "%s: a frame is received while transmit is blocked", tn);

	int got = drain_peer(sp[1]);
	CHECK(got == sent && wait_int(&c.tx_ready, 1), "%s: the peer read %d of %d; tx_ready came", tn, got,
	      sent);
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	CHECK(atomic_load(&c.tx_ready) == 1, "%s: tx_ready once per -EAGAIN", tn);

	/* Receive paused (the guest has no buffers) and transmit blocked: the
	 * writable wakeup still comes, the held frame waits for rx_ready. */
	sent = fill(&c);
	atomic_store(&c.refuse, true);
	CHECK(sent > 0 && send(sp[1], c.frame, sizeof(c.frame), 0) == sizeof(c.frame),
	      "%s: blocked again after %d, a frame offered to a full guest", tn, sent);
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	got = drain_peer(sp[1]);
	CHECK(got == sent && wait_int(&c.tx_ready, 2), "%s: tx_ready while receive is paused", tn);
	atomic_store(&c.refuse, false);
	CHECK(atomic_load(&c.received) == 1, "%s: the held frame waits for rx_ready", tn);
	evloop_call(c.io, fdc_rx_ready, &c);
	CHECK(wait_int(&c.received, 2), "%s: rx_ready delivers the held frame", tn);

	/* The peer goes away while a send waits: tx_ready, so the device's
	 * next try fails for good (link down) instead of waiting forever. */
	sent = fill(&c);
	close(sp[1]);
	if (type == SOCK_DGRAM) {
		/* A datagram peer's close is seen on the next send. */
		CHECK(wait_int(&c.tx_ready, 3), "%s: peer closed: tx_ready", tn);
		evloop_call(c.io, fdc_send, &c);
		CHECK(c.res == -ECONNREFUSED && atomic_load(&c.link_down) == 1,
		      "%s: the retried send finds the peer gone (%d), link down", tn, c.res);
	} else {
		CHECK(wait_int(&c.tx_ready, 3) && wait_int(&c.link_down, 1),
		      "%s: peer closed: tx_ready, link down", tn);
		evloop_call(c.io, fdc_send, &c);
		CHECK(c.res == -ENOTCONN, "%s: then sends fail for good (%d)", tn, c.res);
	}
	evloop_call(c.io, fdc_stop, &c);
	evloop_free(c.io);
	c.be->ops->destroy(c.be);
}

/* What a run-time attachment must match (virtio_net_change_attachment). */
static void test_backend_fits(void)
{
	static const struct net_backend_ops fd_ops = {.name = "fd"}, tap_ops = {.name = "tap"};
	struct net_backend fd = {.ops = &fd_ops, .mtu = 1500},
			   tap = {.ops = &tap_ops, .vnet_hdr = true, .mtu = 1500};
	const char *f = "network_devices[1].attachment";
	vmk_error *err = NULL;

	CHECK(net_backend_fits(false, 1500, &fd, f, &err) && !err, "fd after fd");
	CHECK(net_backend_fits(false, 1500, &tap, f, &err) && !err, "TAP after fd (zeroed headers)");
	CHECK(net_backend_fits(true, 1500, &tap, f, &err) && !err, "TAP after TAP");
	CHECK(!net_backend_fits(true, 1500, &fd, f, &err) && err &&
		  vmk_error_get_code(err) == VMK_ERR_NETWORK_ATTACHMENT &&
		  !strcmp(vmk_error_get_field(err), f) &&
		  strstr(vmk_error_get_message(err), "a fd attachment cannot carry the checksum and TSO"),
	      "fd after TAP refused: offloads (%s)", err ? vmk_error_get_message(err) : "none");
	vmk_error_free(err);
	err = NULL;
	fd.mtu = 9000;
	CHECK(!net_backend_fits(false, 1500, &fd, f, &err) && err &&
		  strstr(vmk_error_get_message(err), "MTU 9000 differs from the device's 1500"),
	      "MTU change refused (%s)", err ? vmk_error_get_message(err) : "none");
	vmk_error_free(err);
}

int main(void)
{
	CHECK(gmem_init(&mem, 64ull << 20) == 0, "guest memory");
	test_tx();
	test_backend_fits();
	test_rx();
	test_ctrl();
	test_mac();
	test_attachments();
	test_config();
	test_fd_backpressure(SOCK_DGRAM);
	test_fd_backpressure(SOCK_SEQPACKET);
	return check_done();
}
