/* Unit tests of virtio-vsock: the packet parser on hand-made requests, the
 * socket-device configuration's checks, and the device driven through the
 * stand-in transport by a driver that follows the protocol and one that
 * does not, with real unix sockets on the host side. */
#include "../unit/check.h"
#include "../unit/transport_stub.h"
#include "virtio/devices.h"
#include "virtio/vsock_pkt.h"
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#define RXQ    0
#define TXQ    1
#define RXBUF  (DATA + 0x100000ull)		/* QSIZE receive buffers of 4 KiB + header */
#define TXBUF  (DATA + 0x200000ull)		/* one transmit request at a time */
#define RX_LEN (4096 + (uint32_t)VSOCK_HDR_LEN) /* what Linux posts */
#define GUEST  3

static struct virtio_vsock *vs;
static struct virtio_dev *dev;
static uint64_t rx_gpa[QSIZE];

struct notify_call {
	unsigned q;
};

static void on_loop_notify(void *ctx)
{
	struct notify_call *c = ctx;
	dev->queue_notify(dev->opaque, c->q);
}

/* Kicks run on the I/O thread, as the transport runs them. */
static void kick(unsigned q)
{
	struct notify_call c = {q};
	evloop_call(loop, on_loop_notify, &c);
}

static void post_rx(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = RXBUF + (uint64_t)(dq[RXQ].next_desc % QSIZE) * 0x2000;
		uint16_t head = drv_add(RXQ, &(struct buf){gpa, RX_LEN, true}, 1);
		rx_gpa[head] = gpa;
	}
	kick(RXQ);
}

static void send_pkt(uint64_t src_cid, uint64_t dst_cid, uint32_t src_port, uint32_t dst_port, uint16_t op,
		     uint32_t flags, const void *data, uint32_t len, uint32_t hdr_len)
{
	struct vsock_hdr h = {.src_cid = htole64(src_cid),
			      .dst_cid = htole64(dst_cid),
			      .src_port = htole32(src_port),
			      .dst_port = htole32(dst_port),
			      .len = htole32(hdr_len),
			      .type = htole16(VSOCK_TYPE_STREAM),
			      .op = htole16(op),
			      .flags = htole32(flags),
			      .buf_alloc = htole32(65536),
			      .fwd_cnt = 0};
	uint8_t *p = g(TXBUF, sizeof(h) + len);
	memcpy(p, &h, sizeof(h));
	if (len)
		memcpy(p + sizeof(h), data, len);
	drv_add(TXQ, &(struct buf){TXBUF, (uint32_t)sizeof(h) + len, false}, 1);
	kick(TXQ);
	uint32_t id, l;
	drv_wait_used(TXQ, &id, &l);
}

static void send_op(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags)
{
	send_pkt(GUEST, VSOCK_HOST_CID, src_port, dst_port, op, flags, NULL, 0, 0);
}

/* The next packet the device gave the guest, or op 0 after 2 s. */
static struct vsock_hdr rx_next(uint8_t *payload, size_t max)
{
	struct vsock_hdr h = {0};
	uint32_t id, len;

	if (!drv_wait_used(RXQ, &id, &len) || id >= QSIZE || len < sizeof(h))
		return h;
	memcpy(&h, g(rx_gpa[id], sizeof(h)), sizeof(h));
	if (payload && len > sizeof(h))
		memcpy(payload, g(rx_gpa[id] + sizeof(h), len - sizeof(h)),
		       len - sizeof(h) < max ? len - sizeof(h) : max);
	post_rx(1);
	return h;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8))
		return -1;
	return fd;
}

static int accept_within(int lfd, int ms)
{
	struct pollfd p = {lfd, POLLIN, 0};
	return poll(&p, 1, ms) == 1 ? accept(lfd, NULL, NULL) : -1;
}

static ssize_t read_within(int fd, void *buf, size_t len, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, ms) == 1 ? read(fd, buf, len) : -2;
}

static void test_parse(void)
{
	struct virtq_elem el = {0};
	struct vsock_hdr h = {.src_cid = htole64(GUEST),
			      .dst_cid = htole64(VSOCK_HOST_CID),
			      .src_port = htole32(7),
			      .dst_port = htole32(9),
			      .type = htole16(VSOCK_TYPE_STREAM),
			      .op = htole16(VSOCK_OP_RW),
			      .len = htole32(3)};
	uint8_t data[3] = {1, 2, 3};
	struct vsock_pkt p;

	elem_add(&el, &h, 10, false);
	CHECK(vsock_pkt_parse(&el, GUEST, &p) == VSOCK_PKT_DROP, "a header cut short is dropped");
	el = (struct virtq_elem){0};
	elem_add(&el, &h, 20, false);
	elem_add(&el, (uint8_t *)&h + 20, sizeof(h) - 20, false);
	elem_add(&el, data, 3, false);
	CHECK(vsock_pkt_parse(&el, GUEST, &p) == VSOCK_PKT_OK && p.len == 3 && p.src_port == 7 &&
		  p.dst_port == 9,
	      "a header split across buffers, with its payload, parses");
	CHECK(vsock_pkt_parse(&el, GUEST + 1, &p) == VSOCK_PKT_DROP, "another source CID is dropped");
	h.len = htole32(4);
	CHECK(vsock_pkt_parse(&el, GUEST, &p) == VSOCK_PKT_RESET,
	      "a length that is not the payload's is reset");
	h.len = htole32(3);
	h.dst_cid = htole64(7);
	CHECK(vsock_pkt_parse(&el, GUEST, &p) == VSOCK_PKT_RESET, "a CID other than the host's is reset");
	h.dst_cid = htole64(VSOCK_HOST_CID);
	h.op = htole16(99);
	CHECK(vsock_pkt_parse(&el, GUEST, &p) == VSOCK_PKT_RESET, "an unknown op is reset");
	h.op = htole16(VSOCK_OP_REQUEST);
	CHECK(vsock_pkt_parse(&el, GUEST, &p) == VSOCK_PKT_RESET, "a payload on a REQUEST is reset");
	h.type = htole16(2);
	h.op = htole16(VSOCK_OP_RW);
	CHECK(vsock_pkt_parse(&el, GUEST, &p) == VSOCK_PKT_RESET, "seqpacket (not offered) is reset");
}

static void test_hybrid_parse(void)
{
	static const struct {
		const char *line;
		int ok;
		uint32_t port;
	} cases[] = {
	    {"CONNECT 52\n", 1, 52},
	    {"CONNECT 4294967294\r\n", 1, 4294967294u},
	    {"CONNECT   7\n", 1, 7},
	    {"CONNECT 0\n", 0, 0},
	    {"CONNECT 4294967295\n", 0, 0},
	    {"CONNECT 99999999999\n", 0, 0},
	    {"CONNECT 5 \n", 0, 0},
	    {"CONNECT -5\n", 0, 0},
	    {"CONNECT \n", 0, 0},
	    {"connect 5\n", 0, 0},
	    {"CONNECT 5", 0, 0},
	    {"CONNECT 000000000000000000000001\n", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t port = 0;
		int r = vsock_hybrid_parse(cases[i].line, strlen(cases[i].line), &port);
		CHECK(cases[i].ok ? r == 0 && port == cases[i].port : r != 0, "hybrid line %zu %s", i,
		      cases[i].ok ? "parses" : "is refused");
	}
}

static void test_config(void)
{
	vmk_socket_device *d = vmk_socket_device_new();
	vmk_error *err = NULL;
	char longp[200];

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	CHECK(vmk_socket_device_get_guest_cid(d) == 3, "the guest CID is 3 by default");
	CHECK(!vmk_socket_device_set_guest_cid(d, 2, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_SOCKET_DEVICE &&
		  !strcmp(vmk_error_get_field(err), "guest_cid"),
	      "CID 2 (the host's) is refused, naming guest_cid");
	vmk_error_free(err);
	err = NULL;
	CHECK(vmk_socket_device_set_guest_cid(d, 42, NULL) && vmk_socket_device_get_guest_cid(d) == 42,
	      "CID 42 is taken");
	CHECK(!vmk_socket_device_add_unix_forward(d, 0, "/tmp/x", VMK_SOCKET_FORWARD_GUEST_TO_HOST, NULL),
	      "port 0 is refused");
	CHECK(!vmk_socket_device_add_unix_forward(d, 5, longp, VMK_SOCKET_FORWARD_GUEST_TO_HOST, &err) &&
		  !strcmp(vmk_error_get_field(err), "path"),
	      "a path longer than a unix address is refused, naming path");
	vmk_error_free(err);
	CHECK(
	    vmk_socket_device_add_unix_forward(d, 5, "/tmp/x", VMK_SOCKET_FORWARD_GUEST_TO_HOST, NULL) &&
		!vmk_socket_device_add_unix_forward(d, 5, "/tmp/y", VMK_SOCKET_FORWARD_GUEST_TO_HOST, NULL) &&
		vmk_socket_device_add_unix_forward(d, 5, "/tmp/y", VMK_SOCKET_FORWARD_HOST_TO_GUEST, NULL),
	    "a port is forwarded once per direction");
	err = NULL;
	CHECK(!vmk_socket_device_add_unix_forward(d, 6, "/tmp/y", VMK_SOCKET_FORWARD_HOST_TO_GUEST, &err) &&
		  strstr(vmk_error_get_message(err), "already the listening socket of port 5"),
	      "a second listen on the same path is refused");
	vmk_error_free(err);
	err = NULL;
	CHECK(
	    !vmk_socket_device_set_hybrid_path(d, "/tmp/y", NULL) &&
		!vmk_socket_device_set_hybrid_path(d, longp + 100, NULL) &&
		vmk_socket_device_set_hybrid_path(d, "/tmp/h", NULL) &&
		!strcmp(vmk_socket_device_get_hybrid_path(d), "/tmp/h") &&
		!vmk_socket_device_add_unix_forward(d, 7, "/tmp/h", VMK_SOCKET_FORWARD_HOST_TO_GUEST, NULL) &&
		vmk_socket_device_add_unix_forward(d, 7, "/tmp/h", VMK_SOCKET_FORWARD_GUEST_TO_HOST, NULL),
	    "the hybrid path: not a listen path, room for _PORT, not listened on twice");
	vmk_config *cfg = vmk_config_new();
	CHECK(vmk_config_add_socket_device(cfg, d, NULL) && !vmk_config_add_socket_device(cfg, d, NULL),
	      "a VM has one socket device");
	vmk_config_free(cfg);
	vmk_socket_device_free(d);
}

static void test_device(void)
{
	char dir[] = "/tmp/vmkit-vsock-test.XXXXXX", out_path[128], in_path[128], buf[8192];
	vmk_error *err = NULL;
	struct vsock_hdr h;
	int lfd, cfd;

	if (!mkdtemp(dir))
		return;
	snprintf(out_path, sizeof(out_path), "%s/out.sock", dir);
	snprintf(in_path, sizeof(in_path), "%s/in.sock", dir);
	lfd = unix_listen(out_path);
	vmk_socket_device *cfg = vmk_socket_device_new();
	vmk_socket_device_add_unix_forward(cfg, 1025, out_path, VMK_SOCKET_FORWARD_GUEST_TO_HOST, NULL);
	vmk_socket_device_add_unix_forward(cfg, 2000, in_path, VMK_SOCKET_FORWARD_HOST_TO_GUEST, NULL);
	queues_reset();
	vs = virtio_vsock_new(cfg, NULL, &err);
	vmk_socket_device_free(cfg);
	CHECK(vs != NULL, "the device is made, listening on the host-to-guest path");
	if (!vs)
		return;
	dev = virtio_vsock_dev(vs);
	CHECK(le64toh(*(uint64_t *)dev->config) == 3 && dev->device_id == 19 && dev->num_queues == 3,
	      "virtio id 19, three queues, guest_cid 3 in the configuration space");
	CHECK(dev->activate(dev->opaque) == 0, "DRIVER_OK");
	post_rx(QSIZE);

	/* Guest to host: connect, data both ways. */
	send_op(5000, 1025, VSOCK_OP_REQUEST, 0);
	cfd = accept_within(lfd, 2000);
	h = rx_next(NULL, 0);
	CHECK(cfd >= 0 && le16toh(h.op) == VSOCK_OP_RESPONSE && le32toh(h.src_port) == 1025 &&
		  le32toh(h.dst_port) == 5000 && le64toh(h.dst_cid) == GUEST && le32toh(h.buf_alloc) > 0,
	      "a guest connection to a forwarded port is answered with RESPONSE once the host socket is "
	      "connected");
	send_pkt(GUEST, VSOCK_HOST_CID, 5000, 1025, VSOCK_OP_RW, 0, "hello", 5, 5);
	CHECK(read_within(cfd, buf, sizeof(buf), 2000) == 5 && !memcmp(buf, "hello", 5),
	      "guest data reaches the host socket");
	CHECK(write(cfd, "world", 5) == 5, "host writes");
	h = rx_next((uint8_t *)buf, sizeof(buf));
	CHECK(le16toh(h.op) == VSOCK_OP_RW && le32toh(h.len) == 5 && !memcmp(buf, "world", 5),
	      "host data reaches the guest as RW within its credit");

	/* Hostile and unanswerable packets. */
	send_op(5001, 4444, VSOCK_OP_REQUEST, 0);
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_RST && le32toh(h.src_port) == 4444 && le32toh(h.dst_port) == 5001,
	      "a connection to a port nobody forwards is reset");
	send_pkt(GUEST + 5, VSOCK_HOST_CID, 5002, 1025, VSOCK_OP_REQUEST, 0, NULL, 0, 0);
	send_pkt(GUEST, VSOCK_HOST_CID, 5000, 1025, VSOCK_OP_RW, 0, "x", 1, 7);
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_RST && le32toh(h.dst_port) == 5000,
	      "a forged source CID gets no answer; a bad length resets its connection");
	CHECK(read_within(cfd, buf, sizeof(buf), 2000) == 0, "and the host socket sees the end");
	close(cfd);

	/* The guest overruns the credit we gave while the host does not read. */
	send_op(5003, 1025, VSOCK_OP_REQUEST, 0);
	cfd = accept_within(lfd, 2000);
	h = rx_next(NULL, 0);
	static uint8_t big[32768];
	int sent = 0;
	bool reset = false;
	for (; sent < 64 && !reset; sent++) {
		send_pkt(GUEST, VSOCK_HOST_CID, 5003, 1025, VSOCK_OP_RW, 0, big, sizeof(big), sizeof(big));
		uint32_t id, len;
		while (drv_used(RXQ, &id, &len)) {
			memcpy(&h, g(rx_gpa[id], sizeof(h)), sizeof(h));
			reset |= le16toh(h.op) == VSOCK_OP_RST;
			post_rx(1);
		}
	}
	CHECK(reset, "a guest sending beyond its credit is reset (after %d KiB)", sent * 32);
	close(cfd);

	/* Host to guest: a client of the listening path becomes a REQUEST. */
	int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, in_path);
	CHECK(c2 >= 0 && connect(c2, (struct sockaddr *)&sa, sizeof(sa)) == 0, "a host client connects");
	h = rx_next(NULL, 0);
	uint32_t hp = le32toh(h.src_port);
	CHECK(le16toh(h.op) == VSOCK_OP_REQUEST && le32toh(h.dst_port) == 2000,
	      "the guest is asked to accept on port 2000");
	send_op(2000, hp, VSOCK_OP_RESPONSE, 0);
	CHECK(write(c2, "ping", 4) == 4, "the client writes");
	h = rx_next((uint8_t *)buf, sizeof(buf));
	CHECK(le16toh(h.op) == VSOCK_OP_RW && le32toh(h.len) == 4 && !memcmp(buf, "ping", 4),
	      "and the guest receives it");
	send_op(2000, hp, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_RST && read_within(c2, buf, sizeof(buf), 2000) == 0,
	      "the guest's close is answered with RST and ends the host connection");
	close(c2);

	dev->reset(dev->opaque);
	evloop_call(loop, on_loop_notify, &(struct notify_call){RXQ}); /* runs after the teardown */
	virtio_vsock_free(vs);
	CHECK(access(in_path, F_OK) != 0, "the listening socket is removed with the device");
	close(lfd);
	unlink(out_path);
	rmdir(dir);
}

/* What the device handed its owner (hooks run on the I/O thread). */
static struct {
	pthread_mutex_t lock;
	uint64_t next_id;
	uint64_t acc_id, conn_id;
	int acc_fd, conn_fd, conn_err;
	uint32_t acc_port, acc_guest_port;
	bool accepted, connected;
} own = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 100};

static bool own_has_listener(void *ctx, uint32_t port)
{
	(void)ctx;
	return port == 3000;
}

static uint64_t own_new_id(void *ctx)
{
	(void)ctx;
	return __atomic_fetch_add(&own.next_id, 1, __ATOMIC_SEQ_CST);
}

static bool own_accept(void *ctx, uint64_t id, uint32_t port, uint32_t guest_port, int fd)
{
	(void)ctx;
	pthread_mutex_lock(&own.lock);
	own.acc_id = id;
	own.acc_fd = fd;
	own.acc_port = port;
	own.acc_guest_port = guest_port;
	own.accepted = true;
	pthread_mutex_unlock(&own.lock);
	return true;
}

static bool own_connected(void *ctx, uint64_t id, int fd, int error)
{
	(void)ctx;
	pthread_mutex_lock(&own.lock);
	own.conn_id = id;
	own.conn_fd = fd;
	own.conn_err = error;
	own.connected = true;
	pthread_mutex_unlock(&own.lock);
	return true;
}

/* Waits up to 2 s for a hook call (*flag), then clears it. */
static bool own_wait(bool *flag)
{
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&own.lock);
		bool v = *flag;
		*flag = false;
		pthread_mutex_unlock(&own.lock);
		if (v)
			return true;
		usleep(10000);
	}
	return false;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The application's listeners and connects, and the hybrid socket. */
static void test_runtime(void)
{
	char dir[] = "/tmp/vmkit-vsock-rt.XXXXXX", hy[128], hy_port[140], live[128], buf[256];
	static const struct virtio_vsock_hooks hooks = {.has_listener = own_has_listener,
							.new_id = own_new_id,
							.accept = own_accept,
							.connected = own_connected};
	vmk_error *err = NULL;
	struct vsock_hdr h;

	if (!mkdtemp(dir))
		return;
	snprintf(hy, sizeof(hy), "%s/hy.sock", dir);
	snprintf(hy_port, sizeof(hy_port), "%s/hy.sock_7000", dir);
	snprintf(live, sizeof(live), "%s/live.sock", dir);

	/* A live socket (another VM's) at a listen path is not taken over. */
	int live_fd = unix_listen(live);
	vmk_socket_device *cfg = vmk_socket_device_new();
	vmk_socket_device_add_unix_forward(cfg, 9, live, VMK_SOCKET_FORWARD_HOST_TO_GUEST, NULL);
	CHECK(!virtio_vsock_new(cfg, &hooks, &err) && err && strstr(vmk_error_get_message(err), "in use"),
	      "a listen path another process listens on is refused, not unlinked");
	vmk_error_free(err);
	err = NULL;
	CHECK(unix_connect(live) >= 0, "and that process still has its socket");
	close(live_fd);
	vmk_socket_device_free(cfg);

	/* A stale one (its listener gone) is replaced. */
	cfg = vmk_socket_device_new();
	vmk_socket_device_add_unix_forward(cfg, 9, live, VMK_SOCKET_FORWARD_HOST_TO_GUEST, NULL);
	vmk_socket_device_set_hybrid_path(cfg, hy, NULL);
	queues_reset();
	vs = virtio_vsock_new(cfg, &hooks, &err);
	vmk_socket_device_free(cfg);
	CHECK(vs != NULL, "a stale socket at a listen path is replaced");
	if (!vs) {
		vmk_error_free(err);
		return;
	}
	dev = virtio_vsock_dev(vs);
	dev->activate(dev->opaque);
	post_rx(QSIZE);

	/* The guest connects to a listened port: the application decides. */
	send_op(6000, 3000, VSOCK_OP_REQUEST, 0);
	CHECK(own_wait(&own.accepted) && own.acc_port == 3000 && own.acc_guest_port == 6000,
	      "a guest connection to a listened port reaches the application's accept");
	uint32_t id, len;
	CHECK(!drv_used(RXQ, &id, &len), "the guest hears nothing before the decision");
	int afd = own.acc_fd;
	virtio_vsock_accept_done(vs, own.acc_id, true);
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_RESPONSE && le32toh(h.dst_port) == 6000, "accepted: RESPONSE");
	send_pkt(GUEST, VSOCK_HOST_CID, 6000, 3000, VSOCK_OP_RW, 0, "hi", 2, 2);
	CHECK(read_within(afd, buf, sizeof(buf), 2000) == 2 && !memcmp(buf, "hi", 2),
	      "guest data reaches the application's fd");
	CHECK(write(afd, "yo", 2) == 2, "the application writes");
	h = rx_next((uint8_t *)buf, sizeof(buf));
	CHECK(le16toh(h.op) == VSOCK_OP_RW && le32toh(h.len) == 2 && !memcmp(buf, "yo", 2),
	      "and the guest receives it");
	close(afd);
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_SHUTDOWN, "the application's close is the guest's SHUTDOWN");
	send_op(6000, 3000, VSOCK_OP_RST, 0);

	send_op(6001, 3000, VSOCK_OP_REQUEST, 0);
	CHECK(own_wait(&own.accepted), "a second connection");
	close(own.acc_fd);
	virtio_vsock_accept_done(vs, own.acc_id, false);
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_RST && le32toh(h.dst_port) == 6001, "refused: the guest is reset");

	/* The application connects to guest ports. */
	CHECK(virtio_vsock_connect(vs, 77, 4000), "connect posted");
	h = rx_next(NULL, 0);
	uint32_t hp = le32toh(h.src_port);
	CHECK(le16toh(h.op) == VSOCK_OP_REQUEST && le32toh(h.dst_port) == 4000, "the guest gets a REQUEST");
	send_op(4000, hp, VSOCK_OP_RESPONSE, 0);
	CHECK(own_wait(&own.connected) && own.conn_id == 77 && own.conn_fd >= 0 && !own.conn_err,
	      "the guest's RESPONSE completes the connect with an fd");
	CHECK(write(own.conn_fd, "abc", 3) == 3, "the application writes");
	h = rx_next((uint8_t *)buf, sizeof(buf));
	CHECK(le16toh(h.op) == VSOCK_OP_RW && !memcmp(buf, "abc", 3), "and the guest receives it");
	close(own.conn_fd);
	rx_next(NULL, 0);
	send_op(4000, hp, VSOCK_OP_RST, 0);
	CHECK(virtio_vsock_connect(vs, 78, 4001), "connect posted");
	h = rx_next(NULL, 0);
	send_op(4001, le32toh(h.src_port), VSOCK_OP_RST, 0);
	CHECK(own_wait(&own.connected) && own.conn_id == 78 && own.conn_fd < 0 && own.conn_err == ECONNRESET,
	      "a guest that resets the connect: ECONNRESET");

	/* Firecracker's hybrid socket: CONNECT line, OK <host port>, then the stream. */
	int c = unix_connect(hy);
	CHECK(c >= 0 && write(c, "CONNECT 5000\nxyz", 16) == 16, "a hybrid client sends its line and data");
	h = rx_next(NULL, 0);
	hp = le32toh(h.src_port);
	CHECK(le16toh(h.op) == VSOCK_OP_REQUEST && le32toh(h.dst_port) == 5000,
	      "the CONNECT line becomes a REQUEST to the guest's port");
	send_op(5000, hp, VSOCK_OP_RESPONSE, 0);
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", hp);
	CHECK(read_within(c, buf, (size_t)n, 2000) == n && !memcmp(buf, ok, (size_t)n),
	      "the client reads OK and the host-side port");
	h = rx_next((uint8_t *)buf, sizeof(buf));
	CHECK(le16toh(h.op) == VSOCK_OP_RW && le32toh(h.len) == 3 && !memcmp(buf, "xyz", 3),
	      "what the client sent after the line reaches the guest");
	close(c);
	rx_next(NULL, 0);
	send_op(5000, hp, VSOCK_OP_RST, 0);
	c = unix_connect(hy);
	CHECK(c >= 0 && write(c, "CONNECT 5001\n", 13) == 13, "a hybrid client to a port nobody listens on");
	h = rx_next(NULL, 0);
	send_op(5001, le32toh(h.src_port), VSOCK_OP_RST, 0);
	CHECK(read_within(c, buf, sizeof(buf), 2000) == 0, "sees its connection closed");
	close(c);
	static char junk[64];
	memset(junk, 'C', sizeof(junk));
	c = unix_connect(hy);
	/* Closed with bytes unread: the client may see a reset rather than EOF. */
	CHECK(c >= 0 && write(c, junk, sizeof(junk)) == sizeof(junk) &&
		  read_within(c, buf, sizeof(buf), 2000) >= -1 && read_within(c, buf, sizeof(buf), 10) <= 0,
	      "a line longer than 32 bytes is closed");
	close(c);
	c = unix_connect(hy);
	CHECK(c >= 0 && write(c, "CONN", 4) == 4 && read_within(c, buf, sizeof(buf), 8000) == 0,
	      "a client that never ends its line is closed after 5 s");
	close(c);
	int pl = unix_listen(hy_port);
	send_op(6100, 7000, VSOCK_OP_REQUEST, 0);
	int pc = accept_within(pl, 2000);
	h = rx_next(NULL, 0);
	CHECK(pc >= 0 && le16toh(h.op) == VSOCK_OP_RESPONSE,
	      "a guest connection to a port nothing else serves goes to PATH_<port>");
	if (pc >= 0)
		close(pc);
	close(pl);
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_SHUTDOWN, "its host side's close reaches the guest");
	send_op(6100, 7000, VSOCK_OP_RST, 0);

	/* A connect the guest never answers times out. */
	CHECK(virtio_vsock_connect(vs, 79, 4002), "connect posted");
	h = rx_next(NULL, 0);
	CHECK(own_wait(&own.connected) || own_wait(&own.connected) || own_wait(&own.connected) ||
		  own_wait(&own.connected) || own_wait(&own.connected) || own_wait(&own.connected),
	      "an unanswered connect completes");
	CHECK(own.conn_id == 79 && own.conn_err == ETIMEDOUT, "with ETIMEDOUT");
	h = rx_next(NULL, 0);
	CHECK(le16toh(h.op) == VSOCK_OP_RST, "and the guest is told to forget it");

	/* A connect still waiting when the driver resets ends too. */
	CHECK(virtio_vsock_connect(vs, 80, 4003), "connect posted");
	rx_next(NULL, 0);
	dev->reset(dev->opaque);
	CHECK(own_wait(&own.connected) && own.conn_id == 80 && own.conn_err == ECONNRESET,
	      "a driver reset ends a waiting connect");
	evloop_call(loop, on_loop_notify, &(struct notify_call){RXQ});
	virtio_vsock_free(vs);
	CHECK(access(hy, F_OK) != 0, "the hybrid socket is removed with the device");
	unlink(hy_port);
	unlink(live);
	rmdir(dir);
}

int main(void)
{
	if (gmem_init(&mem, MEM_SIZE) != 0)
		return 1;
	loop = evloop_new();
	test_parse();
	test_hybrid_parse();
	test_config();
	test_device();
	test_runtime();
	evloop_free(loop);
	gmem_destroy(&mem);
	return check_done();
}
