/* virtio-net (virtio 1.2 section 5.1): the wire format and the frame
 * handling apart from the queue plumbing, so unit tests and fuzzers can
 * drive it with hand-made descriptor chains. The header and the offload
 * bits are core/vnet_hdr.h, shared with the backends. */
#ifndef VMK_VIRTIO_NET_H
#define VMK_VIRTIO_NET_H

#include "core/vnet_hdr.h"
#include "virtio/queue.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/error.h>

/* Device features beyond the offloads (core/vnet_hdr.h). */
#define VIRTIO_NET_F_MTU       3
#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS    16
#define VIRTIO_NET_F_CTRL_VQ   17
#define VIRTIO_NET_F_CTRL_RX   18

#define VIRTIO_NET_S_LINK_UP 1

/* Control queue (5.1.6.5). */
#define VIRTIO_NET_OK		      0
#define VIRTIO_NET_ERR		      1
#define VIRTIO_NET_CTRL_RX	      0
#define VIRTIO_NET_CTRL_RX_PROMISC    0
#define VIRTIO_NET_CTRL_RX_ALLMULTI   1
#define VIRTIO_NET_CTRL_MAC	      1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_MAC_TABLE_MAX 64 /* entries per table we accept */

/* A guest frame ready for the backend: iov[0] is a host copy of the
 * checked header when the backend takes one, then the frame's bytes in
 * guest memory. */
struct net_tx {
	struct virtio_net_hdr hdr;
	struct iovec iov[VIRTQ_MAX_IOV + 1];
	unsigned niov;
	size_t frame_len; /* without header */
};

/* What the device accepts, fixed at activation. */
struct net_limits {
	/* The backend the device was made with takes the header, so offloads
	 * were offered (and any later backend must take it too). */
	bool vnet_hdr;
	/* The backend takes a header but the device offers no offloads (a TAP
	 * attached at run time to a device made without one): a zeroed header
	 * goes first. */
	bool plain_hdr;
	uint64_t features;  /* negotiated */
	uint32_t max_frame; /* without GSO: MTU + Ethernet header */
};

/* Turns a transmit chain into a frame for the backend. Returns 0, or
 * -EINVAL when the frame must be dropped (short, too long, or a header
 * asking for offloads that were not negotiated or pointing outside the
 * frame). Reads guest memory once for the header. */
int net_tx_parse(const struct virtq_elem *e, const struct net_limits *lim, struct net_tx *out);

/* Scratch for net_rx_deliver: the first buffer stays until its header can
 * carry num_buffers. */
struct net_rx_scratch {
	struct virtq_elem first, next;
	uint16_t heads[1024];
	uint32_t lens[1024];
};

/* Copies one frame (hdr then len bytes from iov) into the receive queue:
 * mergeable buffers when mrg, else one buffer that must hold it all.
 * Returns 1 when the frame is consumed (delivered, or dropped because it
 * can never fit), 0 when the guest has not posted enough buffers yet
 * (nothing is consumed), -EINVAL when the queue is malformed. */
int net_rx_deliver(struct virtq *vq, bool mrg, const struct virtio_net_hdr *hdr, const struct iovec *iov,
		   unsigned n, size_t len, struct net_rx_scratch *s);

struct net_backend;
/* Whether a backend opened at run time can replace the one a device was
 * made with: the guest's driver read the MTU at probe (same value needed)
 * and, when offloads was offered, sends checksum/TSO frames only a
 * vnet_hdr backend can carry. field names the device in the error. */
bool net_backend_fits(bool offloads, uint16_t mtu, const struct net_backend *be, const char *field,
		      vmk_error **err);

/* One control-queue command (class, command, data); returns the ack. */
uint8_t net_ctrl_handle(const uint8_t *cmd, size_t len, uint64_t features);

#endif
