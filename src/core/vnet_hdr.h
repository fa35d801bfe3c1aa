/* The virtio-net header (virtio 1.2 section 5.1.6) as the kernel's TAP and
 * vhost-net ABI uses it (IFF_VNET_HDR, linux/virtio_net.h): the frame
 * format shared by the virtio-net device and the network backends, so
 * neither includes the other. */
#ifndef VMK_VNET_HDR_H
#define VMK_VNET_HDR_H

#include <stdint.h>

/* The offload feature bits; a TAP is told which of them the guest took. */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_HDR_GSO_NONE	 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN	 0x80

#define NET_ETH_HLEN 14
/* The largest frame a TSO-capable backend carries: a 64 KiB IP packet plus
 * its Ethernet header (and a VLAN tag). */
#define NET_MAX_GSO_FRAME (65535 + NET_ETH_HLEN + 4)

/* VERSION_1 layout: always 12 bytes, num_buffers included. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define NET_HDR_LEN sizeof(struct virtio_net_hdr)

#endif
