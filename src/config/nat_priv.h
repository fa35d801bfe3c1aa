/* NAT attachment settings, shared by src/config/nat.c (which owns them), the
 * libslirp backend (src/attach/nat.c) and the unit tests. The guest network
 * follows slirp's layout, so what QEMU users know holds: the gateway (the
 * host) is .2, the DNS forwarder .3, and the guest gets .15 by DHCP. */
#ifndef VMK_NAT_PRIV_H
#define VMK_NAT_PRIV_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <vmkit/error.h>

#define NAT_MAX_FORWARDS   32
#define NAT_MIN_PREFIX	   8
#define NAT_MAX_PREFIX	   24
#define NAT_GATEWAY_HOST   2
#define NAT_DNS_HOST	   3
#define NAT_GUEST_HOST	   15
#define NAT_DEFAULT_NET	   "10.0.2.0"
#define NAT_DEFAULT_PREFIX 24

struct nat_forward {
	bool udp;
	uint32_t host_addr; /* host byte order */
	uint16_t host_port;
	uint16_t guest_port;
};

struct nat_config {
	uint32_t network; /* host byte order, host bits zero */
	unsigned prefix;
	bool outbound;
	unsigned nforwards;
	struct nat_forward forwards[NAT_MAX_FORWARDS];
};

/* The address host number h of the guest network, in network byte order. */
static inline struct in_addr nat_addr(const struct nat_config *n, uint32_t h)
{
	return (struct in_addr){.s_addr = htonl(n->network | h)};
}

static inline struct in_addr nat_netmask(const struct nat_config *n)
{
	return (struct in_addr){.s_addr = htonl(n->prefix ? ~0u << (32 - n->prefix) : 0)};
}

/* Parses "a.b.c.d/len". Returns NULL, or why the text is not a usable
 * guest network (static string). */
const char *nat_subnet_parse(const char *cidr, uint32_t *network, unsigned *prefix);

/* Whether n can be realized: every forward's host address and port can be
 * bound now. field prefixes the message. */
bool nat_config_check(const struct nat_config *n, const char *field, vmk_error **err);
struct nat_config *nat_config_copy(const struct nat_config *n);
void nat_config_free(struct nat_config *n);

#endif
