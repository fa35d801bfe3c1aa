/* Network devices and their attachments (Apple: VZNetworkDeviceConfiguration,
 * VZVirtioNetworkDeviceConfiguration, VZNATNetworkDeviceAttachment,
 * VZFileHandleNetworkDeviceAttachment, VZBridgedNetworkDeviceAttachment). */
#ifndef VMKIT_NETWORK_H
#define VMKIT_NETWORK_H

#include <stdbool.h>
#include <stdint.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_network_attachment vmk_network_attachment;
typedef struct vmk_network_device vmk_network_device;

/* A connected SOCK_DGRAM or SOCK_SEQPACKET socket: each datagram is one
 * Ethernet frame. The descriptor is duplicated; the caller keeps its own. */
vmk_network_attachment *vmk_fd_network_attachment_new(int fd, vmk_error **err);
/* Largest frame payload (1500 to 65535, default 1500), as Apple allows. */
bool vmk_fd_network_attachment_set_mtu(vmk_network_attachment *a, unsigned mtu, vmk_error **err);
unsigned vmk_fd_network_attachment_get_mtu(const vmk_network_attachment *a);

/* An existing host TAP interface (beyond Apple). Needs access to /dev/net/tun
 * and the interface's owner rights when the VM starts. */
vmk_network_attachment *vmk_tap_network_attachment_new(const char *ifname, vmk_error **err);
/* A new TAP interface, created at start and added to the host bridge named
 * (Apple: VZBridgedNetworkDeviceAttachment). Needs CAP_NET_ADMIN; the bridge
 * must exist. */
vmk_network_attachment *vmk_bridge_network_attachment_new(const char *bridge, vmk_error **err);
/* TAP and bridged attachments: whether the kernel's vhost-net may move the
 * frames (default true; used when /dev/vhost-net opens, else frames go
 * through vmkit's I/O thread). false always uses vmkit's own path. */
bool vmk_network_attachment_set_vhost(vmk_network_attachment *a, bool enabled, vmk_error **err);

/* User-mode NAT (libslirp): DHCP, DNS and outbound TCP/UDP through the
 * host's sockets; the host is reachable at the gateway address. */
vmk_network_attachment *vmk_nat_network_attachment_new(void);
typedef enum vmk_nat_protocol { VMK_NAT_TCP = 0, VMK_NAT_UDP } vmk_nat_protocol;
/* Host-to-guest forwarding (beyond Apple): connections to host_addr:host_port
 * reach the guest's guest_port. */
bool vmk_nat_network_attachment_add_port_forward(vmk_network_attachment *a, vmk_nat_protocol proto,
						 const char *host_addr, uint16_t host_port,
						 uint16_t guest_port, vmk_error **err);
/* The guest's IPv4 network, e.g. "192.168.100.0/24" (default 10.0.2.0/24). */
bool vmk_nat_network_attachment_set_subnet(vmk_network_attachment *a, const char *cidr, vmk_error **err);
/* false: the guest reaches only the host's forwarded services, not the world. */
void vmk_nat_network_attachment_set_outbound(vmk_network_attachment *a, bool allowed);

vmk_network_attachment *vmk_network_attachment_copy(const vmk_network_attachment *a);
void vmk_network_attachment_free(vmk_network_attachment *a);

/* A virtio-net device; a copy of a is kept. */
vmk_network_device *vmk_virtio_network_device_new(const vmk_network_attachment *a);
/* "52:54:00:12:34:56": six hex octets, unicast. Without it the device gets
 * a random locally administered address when added to a configuration. */
bool vmk_virtio_network_device_set_mac(vmk_network_device *d, const char *mac, vmk_error **err);
/* Writes the address as "xx:xx:xx:xx:xx:xx" into buf (18 bytes); false
 * while none is set. */
bool vmk_network_device_get_mac(const vmk_network_device *d, char buf[18]);
vmk_network_device *vmk_network_device_copy(const vmk_network_device *d);
void vmk_network_device_free(vmk_network_device *d);

#ifdef __cplusplus
}
#endif
#endif
