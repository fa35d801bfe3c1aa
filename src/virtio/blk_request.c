/* virtio-blk request parser (virtio 1.2 section 5.2.6). Every length,
 * sector and flag comes from the guest, which may also split the header,
 * the segments and the status byte across descriptors however it likes;
 * the parser assumes no framing and checks everything before blk.c acts. */
#include <errno.h>
#include <string.h>

#include "virtio/blk.h"

/* The guest's struct virtio_blk_outhdr and discard/write-zeroes segment,
 * little-endian like the host. */
struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_seg_wire {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static uint64_t iov_sum(const struct iovec *iov, unsigned n)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

static bool in_range(uint64_t sector, uint64_t count, uint64_t capacity)
{
	return sector <= capacity && count <= capacity - sector;
}

static int parse_segments(const struct virtq_elem *e, uint64_t out_len, uint64_t capacity,
			  struct blk_request *r)
{
	uint64_t bytes = out_len - BLK_HDR_SIZE;
	bool zeroes = r->type == VIRTIO_BLK_T_WRITE_ZEROES;

	if (bytes == 0 || bytes % BLK_SEG_SIZE || bytes / BLK_SEG_SIZE > BLK_MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_IOERR;
	r->nseg = (unsigned)(bytes / BLK_SEG_SIZE);
	for (unsigned i = 0; i < r->nseg; i++) {
		struct blk_seg_wire w;

		iov_copy_from(e->iov, e->nout, BLK_HDR_SIZE + (size_t)i * BLK_SEG_SIZE, &w, sizeof(w));
		/* Discard has no flags; write zeroes has only UNMAP (5.2.6.2). */
		if (w.flags & ~(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0u))
			return VIRTIO_BLK_S_UNSUPP;
		if (w.num_sectors > BLK_MAX_DISCARD_SECTORS || !in_range(w.sector, w.num_sectors, capacity))
			return VIRTIO_BLK_S_IOERR;
		r->seg[i].sector = w.sector;
		r->seg[i].num_sectors = w.num_sectors;
		r->seg[i].unmap = w.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	}
	return VIRTIO_BLK_S_OK;
}

int blk_parse_request(const struct virtq_elem *e, uint64_t capacity, bool read_only, struct blk_request *r)
{
	const struct iovec *in = e->iov + e->nout;
	unsigned nin = e->nin, last;
	uint64_t out_len, in_len;
	struct blk_hdr h;

	r->status = NULL;
	r->niov = r->nseg = 0;
	r->data_len = 0;
	if (e->nout > VIRTQ_MAX_IOV || e->nin > VIRTQ_MAX_IOV - e->nout)
		return -EINVAL;
	/* The status is the last byte the device may write. */
	for (last = nin; last > 0 && in[last - 1].iov_len == 0; last--)
		;
	if (last == 0)
		return -EINVAL;
	r->status = (uint8_t *)in[last - 1].iov_base + in[last - 1].iov_len - 1;
	in_len = iov_sum(in, last) - 1;
	out_len = iov_sum(e->iov, e->nout);

	if (out_len < BLK_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	iov_copy_from(e->iov, e->nout, 0, &h, sizeof(h));
	r->type = h.type;
	r->sector = h.sector;

	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		r->data_len = in_len;
		r->niov = iov_slice(in, last, 0, in_len, r->iov, VIRTQ_MAX_IOV);
		if (h.type == VIRTIO_BLK_T_GET_ID)
			return in_len < VIRTIO_BLK_ID_BYTES ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_OUT:
		if (read_only)
			return VIRTIO_BLK_S_IOERR;
		r->data_len = out_len - BLK_HDR_SIZE;
		r->niov = iov_slice(e->iov, e->nout, BLK_HDR_SIZE, r->data_len, r->iov, VIRTQ_MAX_IOV);
		break;
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (read_only)
			return VIRTIO_BLK_S_IOERR;
		return parse_segments(e, out_len, capacity, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (r->data_len % BLK_SECTOR || !in_range(r->sector, r->data_len / BLK_SECTOR, capacity))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}
