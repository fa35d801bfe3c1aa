/* NAT attachment settings (Apple: VZNATNetworkDeviceAttachment), with what
 * Apple lacks: host-to-guest port forwards, the guest subnet, and a switch
 * for outbound access. Forwards are checked when added (syntax, duplicates)
 * and again at validation, when their host ports must be free. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/nat_priv.h"
#include "config/network_priv.h"
#include "util/error_priv.h"

const char *nat_subnet_parse(const char *cidr, uint32_t *network, unsigned *prefix)
{
	const char *slash;
	char addr[INET_ADDRSTRLEN];
	struct in_addr in;
	unsigned long len;
	char *end;
	uint32_t net, mask;

	if (!cidr || !*cidr)
		return "no network given";
	slash = strchr(cidr, '/');
	if (!slash)
		return "it has no prefix length (like 10.0.2.0/24)";
	if ((size_t)(slash - cidr) >= sizeof(addr))
		return "it is not an IPv4 address and prefix length (like 10.0.2.0/24)";
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return "it is not an IPv4 address and prefix length (like 10.0.2.0/24)";
	if (slash[1] < '0' || slash[1] > '9')
		return "the prefix length is not a number";
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (*end || errno)
		return "the prefix length is not a number";
	/* The guest's DHCP pool (.15 to .30) must fit, and a /8 is already
	 * more than one guest can use. */
	if (len < NAT_MIN_PREFIX || len > NAT_MAX_PREFIX)
		return "the prefix length is not between 8 and 24";
	net = ntohl(in.s_addr);
	mask = ~0u << (32 - len);
	if (net & ~mask)
		return "host bits are set after the prefix (give the network address)";
	if ((net >> 24) == 0 || (net >> 24) == 127)
		return "it is in 0.0.0.0/8 or the loopback network";
	if ((net >> 28) >= 0xe)
		return "it is a multicast or reserved network";
	*network = net;
	*prefix = (unsigned)len;
	return NULL;
}

static struct nat_config *nat_config_new(void)
{
	struct nat_config *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	nat_subnet_parse(NAT_DEFAULT_NET "/24", &n->network, &n->prefix);
	n->outbound = true;
	return n;
}

struct nat_config *nat_config_copy(const struct nat_config *n)
{
	struct nat_config *c = malloc(sizeof(*c));

	if (c)
		*c = *n;
	return c;
}

void nat_config_free(struct nat_config *n)
{
	free(n);
}

static const char *proto_name(bool udp)
{
	return udp ? "udp" : "tcp";
}

/* Binding now is the only way to know the port is free and the address is
 * one of this host's; slirp binds again at start with SO_REUSEADDR. */
static bool check_bind(const struct nat_forward *f, const char *field, vmk_error **err)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(f->host_port), .sin_addr.s_addr = htonl(f->host_addr)};
	char addr[INET_ADDRSTRLEN];
	int one = 1, fd, e;

	fd = socket(AF_INET, (f->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno,
				     "%s: cannot create a socket for a port forward", field);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	e = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
	close(fd);
	if (!e)
		return true;
	inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	if (e == EADDRINUSE)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: port forward %s %s:%u: the port is in use on the host", field,
				     proto_name(f->udp), addr, f->host_port);
	if (e == EADDRNOTAVAIL)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: port forward %s %s:%u: %s is not an address of this host", field,
				     proto_name(f->udp), addr, f->host_port, addr);
	return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, e, "%s: port forward %s %s:%u", field,
			     proto_name(f->udp), addr, f->host_port);
}

bool nat_config_check(const struct nat_config *n, const char *field, vmk_error **err)
{
	bool ok = true;

	for (unsigned i = 0; i < n->nforwards; i++)
		ok = check_bind(&n->forwards[i], field, err) && ok;
	return ok;
}

vmk_network_attachment *vmk_nat_network_attachment_new(void)
{
	struct vmk_network_attachment *a = net_attachment_alloc(NET_ATTACH_NAT);

	if (!a)
		return NULL;
	a->nat = nat_config_new();
	if (!a->nat) {
		vmk_network_attachment_free(a);
		return NULL;
	}
	return a;
}

static bool is_nat(const vmk_network_attachment *a, const char *field, vmk_error **err)
{
	if (!a)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: attachment is NULL", field);
	if (a->kind != NET_ATTACH_NAT || !a->nat)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: not a NAT attachment", field);
	return true;
}

/* Two forwards clash when a connection to one could be meant for the
 * other: same protocol and port, and the same or a wildcard address. */
static bool clashes(const struct nat_forward *a, const struct nat_forward *b)
{
	return a->udp == b->udp && a->host_port == b->host_port &&
	       (a->host_addr == b->host_addr || !a->host_addr || !b->host_addr);
}

bool vmk_nat_network_attachment_add_port_forward(vmk_network_attachment *a, vmk_nat_protocol proto,
						 const char *host_addr, uint16_t host_port,
						 uint16_t guest_port, vmk_error **err)
{
	const char *field = "port_forwards";
	struct nat_forward f = {0};
	struct in_addr in;

	if (!is_nat(a, field, err))
		return false;
	if (proto != VMK_NAT_TCP && proto != VMK_NAT_UDP)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field,
				     "%s: protocol %d is neither TCP nor UDP", field, (int)proto);
	f.udp = proto == VMK_NAT_UDP;
	/* Loopback by default: a forward should not open the guest to the
	 * host's network unless asked. */
	if (!host_addr || !*host_addr)
		host_addr = "127.0.0.1";
	if (inet_pton(AF_INET, host_addr, &in) != 1)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: host address \"%.40s\" is not an IPv4 address", field, host_addr);
	f.host_addr = ntohl(in.s_addr);
	if ((f.host_addr >> 28) >= 0xe)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: host address %s is a multicast or broadcast address", field,
				     host_addr);
	if (!host_port)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: host port 0 is not allowed (the guest could not be reached at a "
				     "known port)",
				     field);
	if (!guest_port)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: guest port 0 is not allowed", field);
	f.host_port = host_port;
	f.guest_port = guest_port;
	for (unsigned i = 0; i < a->nat->nforwards; i++)
		if (clashes(&a->nat->forwards[i], &f))
			return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
					     "%s: %s %s:%u is already forwarded (forward %u)", field,
					     proto_name(f.udp), host_addr, host_port, i);
	if (a->nat->nforwards >= NAT_MAX_FORWARDS)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, field, "%s: at most %d port forwards",
				     field, NAT_MAX_FORWARDS);
	a->nat->forwards[a->nat->nforwards++] = f;
	return true;
}

bool vmk_nat_network_attachment_set_subnet(vmk_network_attachment *a, const char *cidr, vmk_error **err)
{
	const char *field = "subnet";
	const char *why;
	uint32_t net;
	unsigned prefix;

	if (!is_nat(a, field, err))
		return false;
	why = nat_subnet_parse(cidr, &net, &prefix);
	if (why)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: \"%.40s\" is not usable: %s", field, cidr ? cidr : "", why);
	a->nat->network = net;
	a->nat->prefix = prefix;
	return true;
}

void vmk_nat_network_attachment_set_outbound(vmk_network_attachment *a, bool allowed)
{
	if (a && a->kind == NET_ATTACH_NAT && a->nat)
		a->nat->outbound = allowed;
}
