/* Unit tests of the NAT attachment: subnet and port-forward validation, and
 * the libslirp backend on a real I/O loop with no guest: a hand-made DHCP
 * DISCOVER gets an OFFER back, frames wait while the "guest" has no
 * buffers, and a connection to a forwarded host port reaches the guest
 * side (which only works if slirp's sockets are polled). */
#include "../unit/check.h"
#include "attach/nat.h"
#include "config/network_priv.h"
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

static void test_subnet(void)
{
	static const char *const bad[] = {
	    "",		 "10.0.2.0",	"10.0.2.0/",   "10.0.2.0/x",  "10.0.2.0/24x",
	    "10.0.2/24", "10.0.2.1/24", "10.0.2.0/25", "10.0.0.0/7",  "127.0.0.0/8",
	    "0.0.0.0/8", "224.0.0.0/8", "::1/64",      "10.0.2.0/-1", "10.0.2.0/ 24",
	};
	uint32_t net;
	unsigned prefix;

	CHECK(nat_subnet_parse("10.9.0.0/24", &net, &prefix) == NULL && net == 0x0a090000 && prefix == 24,
	      "10.9.0.0/24 parses");
	CHECK(nat_subnet_parse("172.16.0.0/12", &net, &prefix) == NULL && prefix == 12, "/12 parses");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(nat_subnet_parse(bad[i], &net, &prefix) != NULL, "\"%s\" refused", bad[i]);
	CHECK(nat_subnet_parse(NULL, &net, &prefix) != NULL, "NULL refused");
}

static bool fails(bool ok, vmk_error **err, vmk_error_code code, const char *word)
{
	bool r = !ok && *err && vmk_error_get_code(*err) == code && strstr(vmk_error_get_message(*err), word);

	if (!r && *err)
		printf("# got: %s\n", vmk_error_get_message(*err));
	vmk_error_free(*err);
	*err = NULL;
	return r;
}

static uint16_t free_port(int type)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, type, 0);

	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	return ntohs(sa.sin_port);
}

static void test_config(void)
{
	vmk_network_attachment *a = vmk_nat_network_attachment_new(), *c, *fd;
	vmk_error *err = NULL;
	uint16_t port = free_port(SOCK_STREAM);
	int sp[2], lfd, one = 1;

	CHECK(a && a->kind == NET_ATTACH_NAT && a->nat, "NAT attachment");
	CHECK(a->nat->network == 0x0a000200 && a->nat->prefix == 24 && a->nat->outbound,
	      "default 10.0.2.0/24, outbound allowed");
	CHECK(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "127.0.0.1", port, 80, &err) &&
		  !err,
	      "tcp forward added");
	CHECK(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_UDP, NULL, port, 53, &err) &&
		  a->nat->forwards[1].host_addr == INADDR_LOOPBACK && a->nat->forwards[1].udp,
	      "udp forward on the same port, loopback by default");
	CHECK(fails(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "127.0.0.1", port, 81, &err),
		    &err, VMK_ERR_NETWORK_ATTACHMENT, "already forwarded"),
	      "duplicate refused");
	CHECK(fails(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "0.0.0.0", port, 81, &err),
		    &err, VMK_ERR_NETWORK_ATTACHMENT, "already forwarded"),
	      "wildcard over a taken port refused");
	CHECK(fails(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "localhost", 1, 1, &err),
		    &err, VMK_ERR_NETWORK_ATTACHMENT, "not an IPv4 address"),
	      "host name refused");
	CHECK(
	    fails(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "255.255.255.255", 1, 1, &err),
		  &err, VMK_ERR_NETWORK_ATTACHMENT, "broadcast"),
	    "broadcast refused");
	CHECK(fails(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "127.0.0.1", 0, 1, &err),
		    &err, VMK_ERR_NETWORK_ATTACHMENT, "host port 0"),
	      "host port 0 refused");
	CHECK(fails(vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "127.0.0.1", 1, 0, &err),
		    &err, VMK_ERR_NETWORK_ATTACHMENT, "guest port 0"),
	      "guest port 0 refused");
	CHECK(fails(vmk_nat_network_attachment_add_port_forward(a, (vmk_nat_protocol)7, NULL, 1, 1, &err),
		    &err, VMK_ERR_INVALID_ARGUMENT, "protocol 7"),
	      "bad protocol refused");
	CHECK(fails(vmk_nat_network_attachment_set_subnet(a, "10.9.0.1/24", &err), &err,
		    VMK_ERR_NETWORK_ATTACHMENT, "host bits"),
	      "subnet with host bits refused, naming why");
	CHECK(vmk_nat_network_attachment_set_subnet(a, "10.9.0.0/16", &err) &&
		  a->nat->network == 0x0a090000 && a->nat->prefix == 16,
	      "subnet set");
	vmk_nat_network_attachment_set_outbound(a, false);
	c = vmk_network_attachment_copy(a);
	CHECK(c && c->nat != a->nat && c->nat->nforwards == 2 && !c->nat->outbound && c->nat->prefix == 16,
	      "copy keeps forwards, subnet and outbound");
	CHECK(nat_config_check(c->nat, "attachment", &err) && !err, "free ports pass the check");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(lfd,
	     (struct sockaddr *)&(struct sockaddr_in){
		 .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
	     sizeof(struct sockaddr_in));
	listen(lfd, 1);
	CHECK(fails(nat_config_check(c->nat, "attachment", &err), &err, VMK_ERR_NETWORK_ATTACHMENT, "in use"),
	      "a port taken by a listener is reported in use");
	close(lfd);
	for (unsigned i = c->nat->nforwards; i < NAT_MAX_FORWARDS; i++)
		vmk_nat_network_attachment_add_port_forward(c, VMK_NAT_TCP, NULL, (uint16_t)(40000 + i), 1,
							    &err);
	CHECK(fails(vmk_nat_network_attachment_add_port_forward(c, VMK_NAT_TCP, NULL, 39999, 1, &err), &err,
		    VMK_ERR_LIMIT_EXCEEDED, "at most"),
	      "forward limit");
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == 0, "socketpair");
	fd = vmk_fd_network_attachment_new(sp[0], NULL);
	CHECK(fails(vmk_nat_network_attachment_set_subnet(fd, "10.9.0.0/24", &err), &err,
		    VMK_ERR_INVALID_ARGUMENT, "not a NAT"),
	      "NAT settings on a file-handle attachment refused");
	vmk_network_attachment_free(fd);
	close(sp[0]);
	close(sp[1]);
	vmk_network_attachment_free(c);
	vmk_network_attachment_free(a);
}

/* The guest side: frames slirp sends, collected on the I/O thread. */
struct guest {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool refuse;
	unsigned nframes;
	uint8_t frames[16][1600];
	size_t lens[16];
};

static bool guest_receive(void *ctx, const struct iovec *iov, unsigned n)
{
	struct guest *g = ctx;
	size_t len = 0;

	pthread_mutex_lock(&g->lock);
	if (g->refuse) {
		pthread_mutex_unlock(&g->lock);
		return false;
	}
	if (g->nframes < 16) {
		for (unsigned i = 0; i < n && len + iov[i].iov_len <= sizeof(g->frames[0]); i++) {
			memcpy(g->frames[g->nframes] + len, iov[i].iov_base, iov[i].iov_len);
			len += iov[i].iov_len;
		}
		g->lens[g->nframes++] = len;
	}
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return true;
}

static void guest_link(void *ctx, bool up)
{
	(void)ctx;
	(void)up;
}

/* Waits up to 3 s for a frame accepted by match; returns its index or -1. */
static int wait_frame(struct guest *g, unsigned from, bool (*match)(const uint8_t *f, size_t len))
{
	struct timespec dl;
	int found = -1;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	pthread_mutex_lock(&g->lock);
	for (;;) {
		for (unsigned i = from; i < g->nframes && found < 0; i++)
			if (match(g->frames[i], g->lens[i]))
				found = (int)i;
		if (found >= 0 || pthread_cond_timedwait(&g->cond, &g->lock, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&g->lock);
	return found;
}

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 + UDP 68->67 + BOOTP with DHCP DISCOVER, broadcast. */
static size_t dhcp_discover(uint8_t *f)
{
	const size_t bootp = 236 + 312, udp = 8 + bootp, ip = 20 + udp;
	uint8_t *ih = f + 14, *uh = ih + 20, *bp = uh + 8;

	memset(f, 0, 14 + ip);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ih[0] = 0x45;
	put16(ih + 2, (uint16_t)ip);
	ih[8] = 64;
	ih[9] = 17;
	memset(ih + 16, 0xff, 4);
	put16(ih + 10, ip_checksum(ih, 20));
	put16(uh, 68);
	put16(uh + 2, 67);
	put16(uh + 4, (uint16_t)udp);
	bp[0] = 1; /* BOOTREQUEST */
	bp[1] = 1; /* Ethernet */
	bp[2] = 6;
	memcpy(bp + 4, "\x12\x34\x56\x78", 4);
	put16(bp + 10, 0x8000);
	memcpy(bp + 28, guest_mac, 6);
	memcpy(bp + 236, "\x63\x82\x53\x63\x35\x01\x01\xff", 8);
	return 14 + ip;
}

/* The DHCP option code in the BOOTP packet at bp, or NULL. */
static const uint8_t *dhcp_option(const uint8_t *bp, size_t len, uint8_t code)
{
	for (size_t i = 240; i + 1 < len && bp[i] != 255;) {
		if (bp[i] == 0) {
			i++;
			continue;
		}
		if (bp[i] == code)
			return bp + i;
		i += 2 + bp[i + 1];
	}
	return NULL;
}

static bool is_offer(const uint8_t *f, size_t len)
{
	const uint8_t *bp = f + 14 + 20 + 8, *o;

	if (len < 14 + 20 + 8 + 240 || f[12] != 0x08 || f[13] != 0 || f[14 + 9] != 17 || bp[0] != 2 ||
	    memcmp(bp + 4, "\x12\x34\x56\x78", 4) != 0)
		return false;
	o = dhcp_option(bp, len - 42, 53);
	return o && o[2] == 2;
}

static bool is_arp_or_syn_to_guest(const uint8_t *f, size_t len)
{
	if (len >= 42 && f[12] == 0x08 && f[13] == 0x06)
		return memcmp(f + 38, "\x0a\x09\x00\x0f", 4) == 0;
	/* IPv4 TCP to 10.9.0.15 port 80 with SYN. */
	return len >= 54 && f[12] == 0x08 && f[13] == 0 && f[14 + 9] == 6 &&
	       memcmp(f + 14 + 16, "\x0a\x09\x00\x0f", 4) == 0 && f[34 + 2] == 0 && f[34 + 3] == 80 &&
	       (f[34 + 13] & 0x02);
}

struct call {
	struct net_backend *be;
	struct net_backend_client client;
	struct evloop *io;
	uint8_t *frame;
	size_t len;
	int res;
};

static void do_start(void *ctx)
{
	struct call *c = ctx;

	c->res = c->be->ops->start(c->be, c->io, &c->client);
}

static void do_send(void *ctx)
{
	struct call *c = ctx;
	struct iovec iov[2] = {{c->frame, 20}, {c->frame + 20, c->len - 20}};

	c->res = c->be->ops->send(c->be, iov, 2);
}

static void do_rx_ready(void *ctx)
{
	struct call *c = ctx;

	c->be->ops->rx_ready(c->be);
}

static void do_stop(void *ctx)
{
	struct call *c = ctx;

	c->be->ops->stop(c->be);
}

static void test_backend(void)
{
	vmk_network_attachment *a = vmk_nat_network_attachment_new();
	struct guest g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	uint16_t port = free_port(SOCK_STREAM);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t frame[1600];
	vmk_error *err = NULL;
	struct call c = {0};
	const uint8_t *bp, *o;
	int i, s;

	vmk_nat_network_attachment_set_subnet(a, "10.9.0.0/24", NULL);
	vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "127.0.0.1", port, 80, NULL);
	c.be = nat_backend_new(a->nat, "attachment", &err);
	CHECK(c.be && !err && c.be->mtu == 1500 && !c.be->vnet_hdr, "backend created");
	if (!c.be)
		return;
	c.io = evloop_new();
	c.client =
	    (struct net_backend_client){.ctx = &g, .receive = guest_receive, .link_changed = guest_link};
	evloop_call(c.io, do_start, &c);
	CHECK(c.res == 0, "backend started on the I/O loop");

	c.frame = frame;
	c.len = dhcp_discover(frame);
	g.refuse = true;
	evloop_call(c.io, do_send, &c);
	CHECK(c.res == 0 && g.nframes == 0, "DISCOVER taken; the refused OFFER waits");
	pthread_mutex_lock(&g.lock);
	g.refuse = false;
	pthread_mutex_unlock(&g.lock);
	evloop_call(c.io, do_rx_ready, &c);
	i = wait_frame(&g, 0, is_offer);
	CHECK(i >= 0, "DHCP OFFER delivered once the guest has buffers");
	if (i >= 0) {
		bp = g.frames[i] + 42;
		CHECK(memcmp(bp + 16, "\x0a\x09\x00\x0f", 4) == 0, "offers 10.9.0.15");
		o = dhcp_option(bp, g.lens[i] - 42, 3);
		CHECK(o && memcmp(o + 2, "\x0a\x09\x00\x02", 4) == 0, "router 10.9.0.2 (the host)");
		o = dhcp_option(bp, g.lens[i] - 42, 6);
		CHECK(o && memcmp(o + 2, "\x0a\x09\x00\x03", 4) == 0, "DNS 10.9.0.3");
		o = dhcp_option(bp, g.lens[i] - 42, 1);
		CHECK(o && memcmp(o + 2, "\xff\xff\xff\x00", 4) == 0, "netmask 255.255.255.0");
	}

	/* Count the frames before connecting: slirp may answer before we look. */
	pthread_mutex_lock(&g.lock);
	unsigned before = g.nframes;
	pthread_mutex_unlock(&g.lock);
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0, "host connects to the forwarded port");
	CHECK(wait_frame(&g, before, is_arp_or_syn_to_guest) >= 0,
	      "the connection reaches the guest side (ARP or SYN to 10.9.0.15:80)");
	close(s);

	evloop_call(c.io, do_stop, &c);
	evloop_free(c.io);
	c.be->ops->destroy(c.be);
	vmk_network_attachment_free(a);
}

static void test_taken_port(void)
{
	vmk_network_attachment *a = vmk_nat_network_attachment_new();
	uint16_t port = free_port(SOCK_STREAM);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	vmk_error *err = NULL;
	struct net_backend *be;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(lfd, 1);
	vmk_nat_network_attachment_add_port_forward(a, VMK_NAT_TCP, "127.0.0.1", port, 22, NULL);
	be = nat_backend_new(a->nat, "network_devices[0].attachment", &err);
	CHECK(!be && err && vmk_error_get_code(err) == VMK_ERR_NETWORK_ATTACHMENT &&
		  strstr(vmk_error_get_message(err),
			 "network_devices[0].attachment: port forward tcp 127.0.0.1"),
	      "a forward to a taken port fails the backend: %s", err ? vmk_error_get_message(err) : "");
	vmk_error_free(err);
	close(lfd);
	vmk_network_attachment_free(a);
}

int main(void)
{
	test_subnet();
	test_config();
	test_backend();
	test_taken_port();
	return check_done();
}
