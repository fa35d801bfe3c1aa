/* Network devices and their attachments (Apple: VZVirtioNetworkDeviceConfiguration,
 * VZFileHandleNetworkDeviceAttachment, VZBridgedNetworkDeviceAttachment; TAP
 * is ours). Attachments check what they name when created, so a typo fails
 * at the line that made it; validation checks again because sockets close
 * and interfaces vanish between configuration and start. NAT settings live
 * in nat.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config/network_priv.h"
#include "util/error_priv.h"

struct vmk_network_attachment *net_attachment_alloc(enum net_attachment_kind kind)
{
	struct vmk_network_attachment *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->kind = kind;
	a->fd = -1;
	a->mtu = NET_DEFAULT_MTU;
	return a;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

const char *net_mac_parse(const char *text, uint8_t mac[6])
{
	uint8_t m[6];
	char sep = 0;

	if (!text)
		return "no address given";
	for (int i = 0; i < 6; i++) {
		const char *p = text + i * 3;
		int hi = hex(p[0]), lo = hi < 0 ? -1 : hex(p[1]);

		if (hi < 0 || lo < 0)
			return "it is not six two-digit hex octets (like 52:54:00:12:34:56)";
		m[i] = (uint8_t)(hi << 4 | lo);
		if (i == 5)
			break;
		if (p[2] != ':' && p[2] != '-')
			return "it is not six two-digit hex octets (like 52:54:00:12:34:56)";
		if (sep && p[2] != sep)
			return "it mixes ':' and '-' separators";
		sep = p[2];
	}
	if (text[17] != '\0')
		return "it is not six two-digit hex octets (like 52:54:00:12:34:56)";
	if (m[0] & 1)
		return "it is a multicast address (the first octet is odd)";
	if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return "it is all zeros";
	memcpy(mac, m, 6);
	return NULL;
}

void net_mac_format(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

void net_mac_random(uint8_t mac[6])
{
	size_t got = 0;

	while (got < 6) {
		ssize_t n = getrandom(mac + got, 6 - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			break;
	}
	/* Without entropy, still unique enough inside one host: pid and time. */
	if (got < 6) {
		unsigned v = (unsigned)getpid() ^ (unsigned)time(NULL);
		memcpy(mac + 2, &v, 4);
	}
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
	if (!(mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		mac[5] = 1;
}

static bool has_net_admin(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {0};

	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	return data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32));
}

static bool check_socket(int fd, const char *field, vmk_error **err)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(int), plen = sizeof(peer);
	struct stat st;
	int type = 0;

	if (fstat(fd, &st) != 0)
		return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno, "%s: file descriptor %d",
				     field, fd);
	if (!S_ISSOCK(st.st_mode))
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: file descriptor %d is not a socket", field, fd);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno,
				     "%s: cannot read the type of socket %d", field, fd);
	if (type != SOCK_DGRAM && type != SOCK_SEQPACKET)
		return vmk_set_error(
		    err, VMK_ERR_NETWORK_ATTACHMENT, field,
		    "%s: socket %d is not a datagram or seqpacket socket (one datagram carries "
		    "one frame)",
		    field, fd);
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
		return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno,
				     "%s: socket %d is not connected", field, fd);
	return true;
}

static bool check_ifname(const char *name, const char *what, const char *field, vmk_error **err)
{
	size_t len = name ? strlen(name) : 0;

	if (!len)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field, "%s: no %s name given", field,
				     what);
	if (len >= IFNAMSIZ)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: %s name \"%.40s\" is longer than %d bytes", field, what, name,
				     IFNAMSIZ - 1);
	if (strchr(name, '/') || strchr(name, ' ') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: \"%s\" is not a valid %s name", field, name, what);
	return true;
}

static bool check_bridge(const char *br, const char *field, vmk_error **err)
{
	char path[64];
	struct stat st;

	if (!if_nametoindex(br))
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: bridge %s does not exist on this host", field, br);
	/* sysfs may belong to another network namespace: judge only when it
	 * knows the interface. */
	snprintf(path, sizeof(path), "/sys/class/net/%s", br);
	if (stat(path, &st) == 0) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", br);
		if (stat(path, &st) != 0)
			return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field, "%s: %s is not a bridge",
					     field, br);
	}
	if (!has_net_admin())
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: creating a TAP interface on bridge %s needs CAP_NET_ADMIN, which "
				     "this process does not have",
				     field, br);
	return true;
}

bool net_attachment_check(const struct vmk_network_attachment *a, const char *field, vmk_error **err)
{
	switch (a->kind) {
	case NET_ATTACH_FD:
		if (a->mtu < NET_MIN_MTU || a->mtu > NET_MAX_MTU)
			return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
					     "%s: MTU %u is not between %d and %d", field, a->mtu,
					     NET_MIN_MTU, NET_MAX_MTU);
		return check_socket(a->fd, field, err);
	case NET_ATTACH_TAP:
		if (!check_ifname(a->ifname, "TAP interface", field, err))
			return false;
		if (!if_nametoindex(a->ifname))
			return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
					     "%s: TAP interface %s does not exist on this host", field,
					     a->ifname);
		return true;
	case NET_ATTACH_BRIDGE:
		return check_ifname(a->ifname, "bridge", field, err) && check_bridge(a->ifname, field, err);
	case NET_ATTACH_NAT:
		if (!nat_config_check)
			return vmk_set_error(err, VMK_ERR_NOT_SUPPORTED, field,
					     "%s: NAT networking is not built into this vmkit", field);
		return nat_config_check(a->nat, field, err);
	}
	return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: unknown kind %d", field,
			     (int)a->kind);
}

vmk_network_attachment *vmk_fd_network_attachment_new(int fd, vmk_error **err)
{
	const char *field = "attachment";
	struct vmk_network_attachment *a;

	if (fd < 0)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field,
				     "%s: file descriptor %d is not valid", field, fd),
		       NULL;
	if (!check_socket(fd, field, err))
		return NULL;
	a = net_attachment_alloc(NET_ATTACH_FD);
	if (!a)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field), NULL;
	a->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (a->fd < 0) {
		vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, errno, "%s: file descriptor %d", field,
			      fd);
		vmk_network_attachment_free(a);
		return NULL;
	}
	return a;
}

bool vmk_fd_network_attachment_set_mtu(vmk_network_attachment *a, unsigned mtu, vmk_error **err)
{
	const char *field = "mtu";

	if (!a || a->kind != NET_ATTACH_FD)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: %s", field,
				     a ? "only file-handle attachments have an MTU" : "attachment is NULL");
	if (mtu < NET_MIN_MTU || mtu > NET_MAX_MTU)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: %u is not between %d and %d", field, mtu, NET_MIN_MTU, NET_MAX_MTU);
	a->mtu = mtu;
	return true;
}

unsigned vmk_fd_network_attachment_get_mtu(const vmk_network_attachment *a)
{
	return a && a->kind == NET_ATTACH_FD ? a->mtu : 0;
}

static vmk_network_attachment *named_new(enum net_attachment_kind kind, const char *name, vmk_error **err)
{
	const char *field = "attachment";
	struct vmk_network_attachment *a = net_attachment_alloc(kind);

	if (!a || !name || !(a->ifname = strdup(name))) {
		if (name)
			vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field);
		else
			vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: interface name is NULL",
				      field);
		vmk_network_attachment_free(a);
		return NULL;
	}
	if (!net_attachment_check(a, field, err)) {
		vmk_network_attachment_free(a);
		return NULL;
	}
	return a;
}

vmk_network_attachment *vmk_tap_network_attachment_new(const char *ifname, vmk_error **err)
{
	return named_new(NET_ATTACH_TAP, ifname, err);
}

vmk_network_attachment *vmk_bridge_network_attachment_new(const char *bridge, vmk_error **err)
{
	return named_new(NET_ATTACH_BRIDGE, bridge, err);
}

bool vmk_network_attachment_set_vhost(vmk_network_attachment *a, bool enabled, vmk_error **err)
{
	const char *field = "vhost";

	if (!a || (a->kind != NET_ATTACH_TAP && a->kind != NET_ATTACH_BRIDGE))
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: %s", field,
				     a ? "only TAP and bridged attachments use vhost-net"
				       : "attachment is NULL");
	a->no_vhost = !enabled;
	return true;
}

bool net_attachment_no_vhost(const struct vmk_network_attachment *a)
{
	return a && a->no_vhost;
}

/* A copy does not recheck: its callers get their answer from validation. */
vmk_network_attachment *vmk_network_attachment_copy(const vmk_network_attachment *a)
{
	struct vmk_network_attachment *c;

	if (!a)
		return NULL;
	c = net_attachment_alloc(a->kind);
	if (!c)
		return NULL;
	c->mtu = a->mtu;
	c->no_vhost = a->no_vhost;
	if (a->fd >= 0 && (c->fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 3)) < 0)
		goto fail;
	if (a->ifname && !(c->ifname = strdup(a->ifname)))
		goto fail;
	if (a->nat && (!nat_config_copy || !(c->nat = nat_config_copy(a->nat))))
		goto fail;
	return c;
fail:
	vmk_network_attachment_free(c);
	return NULL;
}

void vmk_network_attachment_free(vmk_network_attachment *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	if (a->nat && nat_config_free)
		nat_config_free(a->nat);
	free(a->ifname);
	free(a);
}

vmk_network_device *vmk_virtio_network_device_new(const vmk_network_attachment *a)
{
	struct vmk_network_device *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (a && !(d->attachment = vmk_network_attachment_copy(a))) {
		free(d);
		return NULL;
	}
	return d;
}

bool vmk_virtio_network_device_set_mac(vmk_network_device *d, const char *mac, vmk_error **err)
{
	const char *field = "mac_address";
	const char *why;

	if (!d || !mac)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: %s is NULL", field,
				     d ? "address" : "device");
	why = net_mac_parse(mac, d->mac);
	if (why)
		return vmk_set_error(err, VMK_ERR_MAC_ADDRESS, field, "%s: \"%.40s%s\" is not usable: %s",
				     field, mac, strlen(mac) > 40 ? "..." : "", why);
	d->mac_set = true;
	return true;
}

bool vmk_network_device_get_mac(const vmk_network_device *d, char buf[18])
{
	if (!d || !d->mac_set)
		return false;
	net_mac_format(d->mac, buf);
	return true;
}

vmk_network_device *vmk_network_device_copy(const vmk_network_device *d)
{
	struct vmk_network_device *c;

	if (!d)
		return NULL;
	c = vmk_virtio_network_device_new(d->attachment);
	if (!c)
		return NULL;
	memcpy(c->mac, d->mac, sizeof(c->mac));
	c->mac_set = d->mac_set;
	return c;
}

void vmk_network_device_free(vmk_network_device *d)
{
	if (!d)
		return;
	vmk_network_attachment_free(d->attachment);
	free(d);
}

bool vmk_config_add_network_device(vmk_config *cfg, const vmk_network_device *dev, vmk_error **err)
{
	const char *field = "network_devices";
	struct vmk_network_device *copy;

	if (!cfg || !dev)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s is NULL",
				     cfg ? "network device" : "configuration");
	if (cfg->network_count >= VMK_MAX_NETWORK_DEVICES)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, field, "%s: at most %d network devices",
				     field, VMK_MAX_NETWORK_DEVICES);
	copy = vmk_network_device_copy(dev);
	if (!copy)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field,
				     "%s: out of memory copying the device", field);
	if (!copy->mac_set) {
		net_mac_random(copy->mac);
		copy->mac_set = true;
	}
	cfg->network[cfg->network_count++] = copy;
	return true;
}

size_t vmk_config_get_network_device_count(const vmk_config *cfg)
{
	return cfg ? cfg->network_count : 0;
}

void network_validate(const struct vmk_config *cfg, vmk_error **err)
{
	char field[64];

	for (size_t i = 0; i < cfg->network_count; i++) {
		const struct vmk_network_device *d = cfg->network[i];
		const char *why;
		uint8_t m[6];
		char text[18];

		snprintf(field, sizeof(field), "network_devices[%zu].attachment", i);
		if (d->attachment)
			net_attachment_check(d->attachment, field, err);
		net_mac_format(d->mac, text);
		why = net_mac_parse(text, m);
		if (why)
			vmk_set_error(err, VMK_ERR_MAC_ADDRESS, "mac_address",
				      "network_devices[%zu].mac_address: %s is not usable: %s", i, text, why);
		for (size_t j = 0; j < i; j++)
			if (memcmp(cfg->network[j]->mac, d->mac, 6) == 0)
				vmk_set_error(err, VMK_ERR_MAC_ADDRESS, "mac_address",
					      "network_devices[%zu].mac_address: %s is also device %zu's", i,
					      text, j);
	}
}
