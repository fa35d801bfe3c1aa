/* virtio-net frame handling (virtio 1.2 section 5.1.6): the transmit
 * header parser, mergeable receive buffers and control commands. Guest
 * memory is reached only through the elements' iovecs, so unit tests and
 * the fuzzer drive this file alone. */
#include <errno.h>
#include <string.h>

#include "virtio/net.h"

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static bool tx_header_ok(const struct virtio_net_hdr *h, size_t frame_len, const struct net_limits *lim)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint64_t f = lim->features;

	if (!lim->vnet_hdr)
		return h->flags == 0 && h->gso_type == VIRTIO_NET_HDR_GSO_NONE;
	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return false;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(f & 1ull << VIRTIO_NET_F_CSUM))
			return false;
		if ((size_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return false;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(f & 1ull << VIRTIO_NET_F_HOST_ECN))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(h->gso_type & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!(f & 1ull << VIRTIO_NET_F_HOST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!(f & 1ull << VIRTIO_NET_F_HOST_TSO6))
			return false;
		break;
	default:
		return false;
	}
	/* Segmentation needs the checksum to be completed per segment. */
	return (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h->gso_size && h->hdr_len <= frame_len;
}

int net_tx_parse(const struct virtq_elem *e, const struct net_limits *lim, struct net_tx *out)
{
	size_t skip = NET_HDR_LEN, frame_len, max;
	unsigned n = 0;

	/* Transmit buffers are device-readable only. */
	if (e->nin || e->out_len < NET_HDR_LEN + NET_ETH_HLEN)
		return -EINVAL;
	frame_len = (size_t)e->out_len - NET_HDR_LEN;
	if (iov_copy_from(e->iov, e->nout, 0, &out->hdr, NET_HDR_LEN) != NET_HDR_LEN)
		return -EINVAL;
	out->hdr.num_buffers = 0;
	max = out->hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE ? lim->max_frame : NET_MAX_GSO_FRAME;
	if (frame_len > max || !tx_header_ok(&out->hdr, frame_len, lim))
		return -EINVAL;
	if (!lim->vnet_hdr)
		memset(&out->hdr, 0, NET_HDR_LEN);
	if (lim->vnet_hdr || lim->plain_hdr)
		out->iov[n++] = (struct iovec){&out->hdr, NET_HDR_LEN};
	for (unsigned i = 0; i < e->nout; i++) {
		size_t l = e->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		out->iov[n++] = (struct iovec){(uint8_t *)e->iov[i].iov_base + skip, l - skip};
		skip = 0;
	}
	out->niov = n;
	out->frame_len = frame_len;
	return 0;
}

/* A read position in the backend's frame. */
struct src_cursor {
	const struct iovec *iov;
	unsigned n, i;
	size_t off;
};

/* Copies up to room bytes from c into dst at dst_off; returns the count. */
static size_t copy_iov(const struct iovec *dst, unsigned nd, size_t dst_off, size_t room,
		       struct src_cursor *c)
{
	size_t done = 0;

	while (done < room && c->i < c->n) {
		size_t chunk = min_size(c->iov[c->i].iov_len - c->off, room - done);
		size_t w = iov_copy_to(dst, nd, dst_off + done,
				       (const uint8_t *)c->iov[c->i].iov_base + c->off, chunk);

		done += w;
		c->off += w;
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
		if (w < chunk)
			break;
	}
	return done;
}

int net_rx_deliver(struct virtq *vq, bool mrg, const struct virtio_net_hdr *hdr, const struct iovec *iov,
		   unsigned n, size_t len, struct net_rx_scratch *s)
{
	const unsigned max_bufs = sizeof(s->heads) / sizeof(s->heads[0]);
	struct src_cursor c = {.iov = iov, .n = n};
	struct virtio_net_hdr h = *hdr;
	size_t left = len;
	unsigned nbuf = 0;

	while (nbuf == 0 || left) {
		struct virtq_elem *e = nbuf ? &s->next : &s->first;
		size_t room, start = nbuf ? 0 : NET_HDR_LEN, got;
		int r;

		/* Every buffer of the queue taken and still too small: it can
		 * never fit. */
		if (nbuf == max_bufs || nbuf == vq->size || (nbuf && !mrg)) {
			virtq_unpop(vq, nbuf);
			return 1;
		}
		r = virtq_pop(vq, e);
		if (r < 0)
			return r;
		if (r == 0) {
			virtq_unpop(vq, nbuf);
			return 0;
		}
		if (e->in_len < start + (nbuf ? 1 : 0) || e->in_len > UINT32_MAX)
			return -EINVAL;
		room = min_size((size_t)e->in_len - start, left);
		got = copy_iov(e->iov + e->nout, e->nin, start, room, &c);
		if (got != room)
			return -EINVAL;
		left -= got;
		s->heads[nbuf] = e->head;
		s->lens[nbuf] = (uint32_t)(start + got);
		nbuf++;
	}
	h.num_buffers = (uint16_t)nbuf;
	iov_copy_to(s->first.iov + s->first.nout, s->first.nin, 0, &h, NET_HDR_LEN);
	virtq_push_batch(vq, s->heads, s->lens, nbuf);
	return 1;
}

uint8_t net_ctrl_handle(const uint8_t *cmd, size_t len, uint64_t features)
{
	size_t off = 2;

	if (len < 2)
		return VIRTIO_NET_ERR;
	switch (cmd[0]) {
	case VIRTIO_NET_CTRL_RX:
		/* Every frame reaches the guest anyway: the modes are accepted and
		 * change nothing. */
		if (!(features & 1ull << VIRTIO_NET_F_CTRL_RX) || len != 3 || cmd[2] > 1)
			return VIRTIO_NET_ERR;
		return cmd[1] == VIRTIO_NET_CTRL_RX_PROMISC || cmd[1] == VIRTIO_NET_CTRL_RX_ALLMULTI
			   ? VIRTIO_NET_OK
			   : VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_MAC:
		if (!(features & 1ull << VIRTIO_NET_F_CTRL_RX) || cmd[1] != VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return VIRTIO_NET_ERR;
		/* Unicast table, then multicast table; both must be exactly there. */
		for (int t = 0; t < 2; t++) {
			uint32_t entries;

			if (len - off < 4)
				return VIRTIO_NET_ERR;
			memcpy(&entries, cmd + off, 4);
			off += 4;
			if (entries > VIRTIO_NET_CTRL_MAC_TABLE_MAX || len - off < (size_t)entries * 6)
				return VIRTIO_NET_ERR;
			off += (size_t)entries * 6;
		}
		return off == len ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
	}
	return VIRTIO_NET_ERR;
}
