/* virtio-net (virtio 1.2 section 5.1) over a network attachment
 * (src/attach/net.h): one receive/transmit queue pair and a control queue.
 * Transmit chains are parsed into a checked frame (net_tx_parse) before the
 * backend sees them; received frames fill mergeable buffers. All frame work
 * runs on the machine's I/O thread. Offloads (checksum, TSO) are offered
 * only when the backend carries the virtio-net header (TAP). On a TAP the
 * receive and transmit queues go to vhost-net when the kernel has it
 * (vhost_net.c): started on the I/O thread after DRIVER_OK, stopped by a
 * driver reset; the control queue always stays here. A backend that
 * cannot take a frame now (send -EAGAIN) gets it again, with everything
 * after it, once it calls tx_ready: the guest's transmit queue is the
 * buffer, and its driver stops its queue when the ring is full.
 * The attachment can change at run time (virtio_net_change_attachment):
 * the backend and its vhost-net belong to the I/O thread, which swaps
 * them; vhost is also read by the transport's callbacks on vCPU threads,
 * so it changes only under the transport lock. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach/net.h"
#include "config/network_priv.h"
#include "util/error_priv.h"
#include "virtio/devices.h"
#include "virtio/net.h"
#include "virtio/vhost_net.h"

#define QUEUE_SIZE 256
#define RXQ	   0
#define TXQ	   1
#define CTRLQ	   2
/* Class, command, the largest MAC table pair accepted. */
#define CTRL_MAX (2 + 2 * (4 + VIRTIO_NET_CTRL_MAC_TABLE_MAX * 6))

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

struct virtio_net {
	struct virtio_dev dev;
	struct net_config config;
	unsigned index;
	struct net_backend *be; /* NULL: no attachment, the cable is out (I/O thread) */
	void (*disconnected)(void *ctx, unsigned index);
	void *disconnected_ctx;
	bool want_vhost;	  /* TAP and not disabled by the attachment */
	struct vhost_net *vhost;  /* NULL: frames go through the I/O thread (transport lock) */
	atomic_bool vhost_failed; /* start failed: userspace until a driver reset */

	/* Set by activate (vCPU thread), cleared by reset on the I/O thread:
	 * backend frames arriving meanwhile are dropped, as on a real NIC
	 * without a driver. */
	atomic_bool active;
	struct net_limits lim; /* written before active is set */
	bool mrg;

	/* I/O thread only. */
	bool link_up;
	/* The backend said -EAGAIN: the refused chain is back at the head of
	 * the transmit queue and nothing is popped until tx_ready. */
	bool tx_blocked;
	struct virtq_elem elem;
	struct net_tx tx;
	struct net_rx_scratch rx;
};

static bool rx_gso_ok(uint8_t gso_type, uint64_t f)
{
	switch (gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return f & 1ull << VIRTIO_NET_F_GUEST_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return f & 1ull << VIRTIO_NET_F_GUEST_TSO6;
	}
	return false;
}

static bool net_receive(void *ctx, const struct iovec *iov, unsigned n)
{
	struct virtio_net *nd = ctx;
	struct virtio_net_hdr h = {.num_buffers = 1};
	struct iovec frame[64];
	size_t len = 0, skip;
	unsigned nf = 0;
	struct virtq *vq;
	int r;

	if (!atomic_load(&nd->active) || !(vq = virtio_queue(&nd->dev, RXQ)))
		return true;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	/* A vnet_hdr backend puts its header first: take it apart here so the
	 * guest sees a header its negotiated features allow. */
	skip = nd->be->vnet_hdr ? NET_HDR_LEN : 0;
	if (len < skip + NET_ETH_HLEN || n > 64)
		return true;
	if (skip) {
		if (iov_copy_from(iov, n, 0, &h, NET_HDR_LEN) != NET_HDR_LEN)
			return true;
		h.num_buffers = 1;
		if (!(nd->lim.features & 1ull << VIRTIO_NET_F_GUEST_CSUM))
			h.flags = 0;
		/* The backend was told the guest's offloads; a frame needing more
		 * is dropped rather than handed to a driver that cannot take it. */
		if (!rx_gso_ok(h.gso_type, nd->lim.features))
			return true;
	}
	for (unsigned i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		frame[nf++] = (struct iovec){(uint8_t *)iov[i].iov_base + skip, iov[i].iov_len - skip};
		skip = 0;
	}
	len -= nd->be->vnet_hdr ? NET_HDR_LEN : 0;
	r = net_rx_deliver(vq, nd->mrg, &h, frame, nf, len, &nd->rx);
	if (r < 0) {
		atomic_store(&nd->active, false);
		virtio_set_needs_reset(&nd->dev, "virtio-net: malformed receive queue");
		return true;
	}
	if (r == 1)
		virtio_notify_queue(&nd->dev, RXQ);
	return r == 1;
}

/* I/O thread. Returns whether the link changed. */
static bool link_set(struct virtio_net *nd, bool up)
{
	if (nd->link_up == up)
		return false;
	nd->link_up = up;
	nd->config.status = up ? VIRTIO_NET_S_LINK_UP : 0;
	virtio_config_changed(&nd->dev);
	return true;
}

static void net_link_changed(void *ctx, bool up)
{
	struct virtio_net *nd = ctx;

	if (link_set(nd, up) && !up && nd->disconnected)
		nd->disconnected(nd->disconnected_ctx, nd->index);
}

static void net_tx(struct virtio_net *nd, struct virtq *vq)
{
	bool pushed = false;
	int r;

	/* Kicks while blocked: the chains wait in the ring, tx_ready takes them. */
	if (nd->tx_blocked)
		return;
	while ((r = virtq_pop(vq, &nd->elem)) == 1) {
		/* A frame the guest got wrong is dropped, as a NIC would; one the
		 * backend cannot take yet goes back and is parsed again later. */
		if (net_tx_parse(&nd->elem, &nd->lim, &nd->tx) == 0 && nd->be &&
		    nd->be->ops->send(nd->be, nd->tx.iov, nd->tx.niov) == -EAGAIN) {
			virtq_unpop(vq, 1);
			nd->tx_blocked = true;
			break;
		}
		virtq_push(vq, nd->elem.head, 0);
		pushed = true;
	}
	if (r < 0) {
		atomic_store(&nd->active, false);
		virtio_set_needs_reset(&nd->dev, "virtio-net: malformed transmit queue");
	}
	if (pushed)
		virtio_notify_queue(&nd->dev, TXQ);
}

/* The backend has room again (or its link went down): resume where the
 * refused frame waits. */
static void net_tx_ready(void *ctx)
{
	struct virtio_net *nd = ctx;
	struct virtq *vq;

	if (!nd->tx_blocked)
		return;
	nd->tx_blocked = false;
	if (atomic_load(&nd->active) && (vq = virtio_queue(&nd->dev, TXQ)))
		net_tx(nd, vq);
}

static void net_ctrl(struct virtio_net *nd, struct virtq *vq)
{
	uint8_t cmd[CTRL_MAX], ack;
	bool pushed = false;
	int r;

	while ((r = virtq_pop(vq, &nd->elem)) == 1) {
		struct virtq_elem *e = &nd->elem;

		if (!e->nin || !e->in_len) {
			r = -EINVAL;
			break;
		}
		ack = e->out_len > sizeof(cmd)
			  ? VIRTIO_NET_ERR
			  : net_ctrl_handle(cmd, iov_copy_from(e->iov, e->nout, 0, cmd, sizeof(cmd)),
					    nd->lim.features);
		/* The ack is the last device-writable byte. */
		iov_copy_to(e->iov + e->nout, e->nin, (size_t)e->in_len - 1, &ack, 1);
		virtq_push(vq, e->head, 1);
		pushed = true;
	}
	if (r < 0)
		virtio_set_needs_reset(&nd->dev, "virtio-net: malformed control queue");
	if (pushed)
		virtio_notify_queue(&nd->dev, CTRLQ);
}

static void net_queue_notify(void *opaque, unsigned q)
{
	struct virtio_net *nd = opaque;
	struct virtq *vq = virtio_queue(&nd->dev, q);

	if (!vq || !atomic_load(&nd->active))
		return;
	if (q == RXQ && nd->be)
		nd->be->ops->rx_ready(nd->be);
	else if (q == TXQ)
		net_tx(nd, vq);
	else if (q == CTRLQ)
		net_ctrl(nd, vq);
}

/* Says why the kernel data path is not used: once per process for a
 * missing /dev/vhost-net (every VM start would repeat it), else once per
 * device start. */
static void vhost_off(struct virtio_net *nd, const char *why)
{
	static atomic_bool no_dev_said;

	if (strstr(why, "cannot open") && atomic_exchange(&no_dev_said, true))
		return;
	fprintf(stderr, "vmkit: network_devices[%u]: vhost-net not used, frames go through vmkit: %s\n",
		nd->index, why);
}

/* After DRIVER_OK, on the I/O thread: hands the rx/tx queues to vhost. The
 * I/O thread may have served them until now; vhost starts where it left
 * off. A failure puts back the userspace path until the driver resets the
 * device: what failed (the rings, the memory table, the TAP) may be fine
 * at its next start, which tries again. */
static void vhost_start_on_io(void *ctx)
{
	struct virtio_net *nd = ctx;
	struct virtq *vq;
	char why[160];

	if (!nd->vhost || !atomic_load(&nd->active))
		return;
	/* A refused chain is unpopped: vhost starts at it. */
	nd->tx_blocked = false;
	nd->be->ops->vhost_handover(nd->be, true);
	virtio_queue_set_external(&nd->dev, RXQ, true);
	virtio_queue_set_external(&nd->dev, TXQ, true);
	if (vhost_net_start(nd->vhost, nd->lim.features, why, sizeof(why)) == 0)
		return;
	vhost_off(nd, why);
	atomic_store(&nd->vhost_failed, true);
	virtio_queue_set_external(&nd->dev, RXQ, false);
	virtio_queue_set_external(&nd->dev, TXQ, false);
	nd->be->ops->vhost_handover(nd->be, false);
	/* A chain refused before the hand-over has no kick coming. */
	if ((vq = virtio_queue(&nd->dev, TXQ)))
		net_tx(nd, vq);
}

/* After DRIVER_OK, on the I/O thread, which owns the backend (the
 * attachment may change under a running driver). */
static void activate_on_io(void *ctx)
{
	struct virtio_net *nd = ctx;

	if (!nd->be || !atomic_load(&nd->active))
		return;
	if (nd->be->ops->set_offloads)
		nd->be->ops->set_offloads(nd->be, nd->lim.features);
	if (nd->vhost && !atomic_load(&nd->vhost_failed))
		vhost_start_on_io(nd);
}

static void net_irq_changed(void *opaque)
{
	struct virtio_net *nd = opaque;

	if (nd->vhost)
		vhost_net_irq_changed(nd->vhost);
}

static int net_activate(void *opaque)
{
	struct virtio_net *nd = opaque;
	uint64_t f = 0;

	for (unsigned b = 0; b < 64; b++)
		if (virtio_has_feature(&nd->dev, b))
			f |= 1ull << b;
	nd->lim.features = f;
	nd->mrg = f & 1ull << VIRTIO_NET_F_MRG_RXBUF;
	atomic_store(&nd->active, true);
	if (nd->vhost)
		vhost_net_irq_changed(nd->vhost);
	/* Without it the backend keeps its offloads off and vhost unused:
	 * frames still flow, through the I/O thread. */
	evloop_post(virtio_io_loop(&nd->dev), activate_on_io, nd);
	return 0;
}

/* I/O thread; the transport already stopped watching the kicks. */
static void net_reset(void *opaque)
{
	struct virtio_net *nd = opaque;

	atomic_store(&nd->active, false);
	/* The rings are the driver's again; a late tx_ready finds nothing. */
	nd->tx_blocked = false;
	if (vhost_net_running(nd->vhost)) {
		vhost_net_stop(nd->vhost);
		nd->be->ops->vhost_handover(nd->be, false);
	}
	atomic_store(&nd->vhost_failed, false);
}

struct virtio_net *virtio_net_new(const struct vmk_network_device *cfg, unsigned index,
				  const struct virtio_net_hooks *hooks, vmk_error **err)
{
	struct virtio_net *nd = calloc(1, sizeof(*nd));
	char field[48];
	uint64_t features;

	snprintf(field, sizeof(field), "network_devices[%u].attachment", index);
	if (!nd) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field);
		return NULL;
	}
	if (cfg->attachment) {
		nd->be = net_backend_open(cfg->attachment, field, err);
		if (!nd->be) {
			free(nd);
			return NULL;
		}
	}
	nd->index = index;
	nd->want_vhost = nd->be && nd->be->ops->vhost_fd && !net_attachment_no_vhost(cfg->attachment);
	nd->disconnected = hooks ? hooks->disconnected : NULL;
	nd->disconnected_ctx = hooks ? hooks->ctx : NULL;
	memcpy(nd->config.mac, cfg->mac, 6);
	nd->link_up = nd->be != NULL;
	nd->config.status = nd->link_up ? VIRTIO_NET_S_LINK_UP : 0;
	nd->config.max_virtqueue_pairs = 1;
	nd->config.mtu = nd->be && nd->be->mtu <= UINT16_MAX ? (uint16_t)nd->be->mtu : 1500;
	nd->lim.vnet_hdr = nd->be && nd->be->vnet_hdr;
	nd->lim.max_frame = nd->config.mtu + NET_ETH_HLEN + 4;
	features = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_MTU | 1ull << VIRTIO_NET_F_STATUS |
		   1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_CTRL_VQ |
		   1ull << VIRTIO_NET_F_CTRL_RX;
	if (nd->lim.vnet_hdr)
		features |= 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM |
			    1ull << VIRTIO_NET_F_HOST_TSO4 | 1ull << VIRTIO_NET_F_HOST_TSO6 |
			    1ull << VIRTIO_NET_F_GUEST_TSO4 | 1ull << VIRTIO_NET_F_GUEST_TSO6;
	nd->dev = (struct virtio_dev){
	    .name = "virtio-net",
	    .device_id = VIRTIO_ID_NET,
	    .pci_class = 0x020000,
	    .features = features,
	    .num_queues = 3,
	    .queue_max_size = QUEUE_SIZE,
	    .config = (uint8_t *)&nd->config,
	    .config_size = sizeof(nd->config),
	    .opaque = nd,
	    .activate = net_activate,
	    .queue_notify = net_queue_notify,
	    .reset = net_reset,
	    .irq_changed = net_irq_changed,
	};
	return nd;
}

struct virtio_dev *virtio_net_dev(struct virtio_net *nd)
{
	return &nd->dev;
}

struct vhost_swap {
	struct virtio_net *nd;
	struct vhost_net *v;
};

/* Transport lock held: activate and irq_changed read nd->vhost. */
static void vhost_swap_locked(void *ctx)
{
	struct vhost_swap *x = ctx;

	x->nd->vhost = x->v;
	if (x->v)
		vhost_net_irq_changed(x->v);
}

static void set_vhost(struct virtio_net *nd, struct vhost_net *v)
{
	struct vhost_swap x = {.nd = nd, .v = v};

	virtio_run_locked(&nd->dev, vhost_swap_locked, &x);
}

/* Starts nd->be: vhost-net if wanted and the kernel has it, then the
 * backend's fds on the I/O loop. */
static int plug(struct virtio_net *nd)
{
	struct net_backend_client client = {
	    .ctx = nd,
	    .receive = net_receive,
	    .link_changed = net_link_changed,
	    .tx_ready = net_tx_ready,
	};
	struct vhost_net *v;
	char why[160];

	if (nd->want_vhost) {
		v = vhost_net_open(&nd->dev, nd->be->ops->vhost_fd(nd->be), why, sizeof(why));
		if (v)
			set_vhost(nd, v);
		else
			vhost_off(nd, why);
	}
	return nd->be->ops->start(nd->be, virtio_io_loop(&nd->dev), &client);
}

int virtio_net_start(struct virtio_net *nd)
{
	return nd->be ? plug(nd) : 0;
}

static void stop_on_io(void *ctx)
{
	struct virtio_net *nd = ctx;

	if (nd->vhost)
		vhost_net_shutdown(nd->vhost);
	if (nd->be)
		nd->be->ops->stop(nd->be);
}

void virtio_net_stop(struct virtio_net *nd)
{
	if (nd->dev.transport)
		evloop_call(virtio_io_loop(&nd->dev), stop_on_io, nd);
}

void virtio_net_free(struct virtio_net *nd)
{
	if (!nd)
		return;
	/* The I/O loop is gone: the backend's fds are no longer watched. */
	vhost_net_close(nd->vhost);
	if (nd->be)
		nd->be->ops->destroy(nd->be);
	free(nd);
}

bool net_backend_fits(bool offloads, uint16_t mtu, const struct net_backend *be, const char *field,
		      vmk_error **err)
{
	if (offloads && !be->vnet_hdr)
		return vmk_set_error(
		    err, VMK_ERR_NETWORK_ATTACHMENT, field,
		    "%s: a %s attachment cannot carry the checksum and TSO offloads the device "
		    "offered its driver (it was made with a TAP or bridged attachment); use a "
		    "TAP or bridged attachment",
		    field, be->ops->name);
	if (be->mtu != mtu)
		return vmk_set_error(err, VMK_ERR_NETWORK_ATTACHMENT, field,
				     "%s: MTU %u differs from the device's %u, which the guest's driver read "
				     "when it probed the device",
				     field, (unsigned)be->mtu, (unsigned)mtu);
	return true;
}

/* I/O thread: the old cable out. vhost gives the rings back where it left
 * them; frames the backend held are dropped with it, and so are the ones
 * the guest queued for it (the refused one included), as a NIC without a
 * link drops them. No disconnected hook: the host asked for this. */
static void unplug(struct virtio_net *nd)
{
	struct vhost_net *v = nd->vhost;
	struct virtq *vq;

	if (v) {
		vhost_net_hand_back(v);
		vhost_net_shutdown(v);
		set_vhost(nd, NULL);
		vhost_net_close(v);
	}
	if (nd->be) {
		nd->be->ops->stop(nd->be);
		nd->be->ops->destroy(nd->be);
		nd->be = NULL;
	}
	link_set(nd, false);
	nd->tx_blocked = false;
	if (atomic_load(&nd->active) && (vq = virtio_queue(&nd->dev, TXQ)))
		net_tx(nd, vq);
}

struct attach_swap {
	struct virtio_net *nd;
	struct net_backend *be; /* the new one, handed to the I/O thread; NULL: unplug */
	bool want_vhost;
	int r;
};

static void set_backend(struct virtio_net *nd, struct attach_swap *s)
{
	nd->be = s->be;
	nd->want_vhost = s->want_vhost;
	/* The header the driver writes then carries no offloads; it goes out
	 * zeroed. */
	nd->lim.plain_hdr = s->be && s->be->vnet_hdr && !nd->lim.vnet_hdr;
	atomic_store(&nd->vhost_failed, false);
}

static void swap_on_io(void *ctx)
{
	struct attach_swap *s = ctx;
	struct virtio_net *nd = s->nd;

	unplug(nd);
	if (!s->be)
		return;
	set_backend(nd, s);
	/* Up first: a backend that finds its peer gone while starting reports
	 * it, and that is a real disconnect. */
	link_set(nd, true);
	s->r = plug(nd);
	if (s->r < 0) {
		unplug(nd);
		return;
	}
	/* A driver already running gets what DRIVER_OK would have given it. */
	activate_on_io(nd);
}

bool virtio_net_change_attachment(struct virtio_net *nd, const struct vmk_network_attachment *a,
				  vmk_error **err)
{
	struct attach_swap s = {.nd = nd};
	char field[48];

	snprintf(field, sizeof(field), "network_devices[%u].attachment", nd->index);
	if (a) {
		s.be = net_backend_open(a, field, err);
		if (!s.be)
			return false;
		if (!net_backend_fits(nd->lim.vnet_hdr, nd->config.mtu, s.be, field, err)) {
			s.be->ops->destroy(s.be);
			return false;
		}
		s.want_vhost = s.be->ops->vhost_fd && !net_attachment_no_vhost(a);
	}
	if (!nd->dev.transport) {
		/* Not realized yet: nothing watches the backend or reads the link. */
		if (nd->be)
			nd->be->ops->destroy(nd->be);
		set_backend(nd, &s);
		nd->link_up = s.be != NULL;
		nd->config.status = nd->link_up ? VIRTIO_NET_S_LINK_UP : 0;
		return true;
	}
	evloop_call(virtio_io_loop(&nd->dev), swap_on_io, &s);
	if (s.r < 0)
		return vmk_set_errno(err, VMK_ERR_NETWORK_ATTACHMENT, field, -s.r,
				     "%s: cannot watch the new attachment; the device is left unplugged",
				     field);
	return true;
}
