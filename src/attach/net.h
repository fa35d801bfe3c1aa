/* Network attachments (Apple: VZNetworkDeviceAttachment): what carries the
 * Ethernet frames of a virtio-net device on the host. The device never
 * knows whether frames go to a socket, a TAP device or the NAT stack. All
 * calls happen on the machine's I/O thread, except create/destroy. */
#ifndef VMK_ATTACH_NET_H
#define VMK_ATTACH_NET_H

#include "core/eventloop.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <vmkit/error.h>

struct net_backend;

/* What the backend calls into the device, on the I/O thread. */
struct net_backend_client {
	void *ctx;
	/* A frame for the guest (without virtio-net header). Returns false
	 * when the guest has no receive buffer: the backend keeps the frame
	 * and stops reading until net_backend_rx_ready(). */
	bool (*receive)(void *ctx, const struct iovec *iov, unsigned n);
	/* The host side went away (peer closed, TAP removed) or came back. */
	void (*link_changed)(void *ctx, bool up);
	/* After send returned -EAGAIN: the backend can take frames again (or
	 * its link went down, so the next send fails for good). Called once per
	 * -EAGAIN; a client that stopped waiting (driver reset) ignores it. */
	void (*tx_ready)(void *ctx);
};

struct net_backend_ops {
	const char *name;
	/* Starts watching host fds on io; frames go to client (copied). */
	int (*start)(struct net_backend *be, struct evloop *io, const struct net_backend_client *client);
	/* One frame from the guest. Returns 0 (sent), -EAGAIN when the host
	 * side is full right now (a socket's peer not reading): the frame was
	 * NOT taken, the backend watches for room and calls client tx_ready,
	 * and the device holds this frame and everything after it until then
	 * (backpressure, never a drop). Any other -errno: the frame is dropped
	 * for good (too long, link down). */
	int (*send)(struct net_backend *be, const struct iovec *iov, unsigned n);
	/* The guest posted receive buffers again. */
	void (*rx_ready)(struct net_backend *be);
	/* Optional: the guest's negotiated virtio-net features, so a vnet_hdr
	 * backend hands it only offloads it accepts (vCPU thread). */
	void (*set_offloads)(struct net_backend *be, uint64_t guest_features);
	/* Optional (TAP): the fd a kernel data path (vhost-net) can serve. */
	int (*vhost_fd)(struct net_backend *be);
	/* Optional, with vhost_fd: to_kernel stops reading frames (the kernel
	 * takes them; the fd is still watched for the interface going away);
	 * false reads again (I/O thread). */
	void (*vhost_handover)(struct net_backend *be, bool to_kernel);
	/* Stops watching; called on the I/O thread before it ends. */
	void (*stop)(struct net_backend *be);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	/* Offloads the backend can carry (virtio-net header passed through):
	 * only TAP with IFF_VNET_HDR does. */
	bool vnet_hdr;
	uint32_t mtu;
};

struct vmk_network_attachment;

/* Opens the backend an attachment describes (net.c). field names the
 * device in errors. */
struct net_backend *net_backend_open(const struct vmk_network_attachment *a, const char *field,
				     vmk_error **err);
/* The backends. */
struct net_backend *net_fd_open(const struct vmk_network_attachment *a, const char *field, vmk_error **err);
struct net_backend *net_tap_open(const struct vmk_network_attachment *a, const char *field, vmk_error **err);

#endif
