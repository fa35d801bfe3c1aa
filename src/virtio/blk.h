/* virtio-blk requests (virtio 1.2 section 5.2.6): the wire format and the
 * parser that turns a guest's descriptor chain into a checked, typed
 * request. The parser reads guest memory only through the element's iovecs
 * and touches nothing else, so a fuzzer can drive it alone. */
#ifndef VMK_VIRTIO_BLK_H
#define VMK_VIRTIO_BLK_H

#include "virtio/queue.h"
#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_TOPOLOGY	  10
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES		   20
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

#define BLK_SECTOR   512
#define BLK_HDR_SIZE 16
#define BLK_SEG_SIZE 16
/* Limits advertised in config space and enforced by the parser. */
#define BLK_MAX_DISCARD_SECTORS (UINT32_MAX / BLK_SECTOR)
#define BLK_MAX_DISCARD_SEG	32

struct blk_segment {
	uint64_t sector;
	uint32_t num_sectors;
	bool unmap;
};

struct blk_request {
	uint32_t type;
	uint64_t sector;
	uint64_t data_len; /* IN, OUT: bytes; GET_ID: the buffer's size */
	/* IN, OUT, GET_ID: the data buffers, without header and status. */
	struct iovec iov[VIRTQ_MAX_IOV];
	unsigned niov;
	/* DISCARD, WRITE_ZEROES. */
	struct blk_segment seg[BLK_MAX_DISCARD_SEG];
	unsigned nseg;
	uint8_t *status; /* the last device-writable byte */
};

/* Parses e. Returns VIRTIO_BLK_S_OK with *out ready to execute; or
 * VIRTIO_BLK_S_IOERR / VIRTIO_BLK_S_UNSUPP when the request must fail (then
 * out->status is valid and only it may be written); or -EINVAL when the
 * chain has no status byte, which no driver does: the device is broken. */
int blk_parse_request(const struct virtq_elem *e, uint64_t capacity_sectors, bool read_only,
		      struct blk_request *out);

#endif
