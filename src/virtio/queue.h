/* Split virtqueues (virtio 1.2 section 2.7) read and written through the
 * checked guest-memory accessors. Every index, address and length the guest
 * controls is validated here, before a device sees a request. */
#ifndef VMK_VIRTQ_H
#define VMK_VIRTQ_H

#include "core/iov.h"
#include "core/memory.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* The longest chain accepted (direct or indirect); longer ones are malformed. */
#define VIRTQ_MAX_IOV 1024

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq {
	const struct gmem *mem;
	uint16_t size;	/* power of two, <= 32768 */
	bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	/* Host views of the three areas, checked once when the queue is enabled. */
	volatile uint8_t *desc;
	volatile uint8_t *avail;
	volatile uint8_t *used;
	uint16_t last_avail;	 /* next avail entry the device will take */
	uint16_t used_idx;	 /* next used entry the device will write */
	uint16_t signalled_used; /* used_idx at the last interrupt, for EVENT_IDX */
	bool signalled_valid;
};

/* One request: device-readable buffers (out) come first, then the
 * device-writable ones (in), as the spec requires. Pointers are into guest
 * RAM and stay valid for the machine's life. */
struct virtq_elem {
	uint16_t head;
	unsigned nout, nin;
	uint64_t out_len, in_len;
	struct iovec iov[VIRTQ_MAX_IOV];
};

/* Checks the areas (alignment, inside RAM) and prepares q. Returns 0 or -EINVAL. */
int virtq_init(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc, uint64_t avail,
	       uint64_t used, bool event_idx, bool indirect);
/* 1: e holds the next request; 0: the queue is empty; -EINVAL: the guest
 * published a malformed chain or index (the device must stop using the
 * queue and set DEVICE_NEEDS_RESET). */
int virtq_pop(struct virtq *q, struct virtq_elem *e);
/* Returns the request, telling the driver `written` bytes were written. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);
/* Returns n requests at once, published by one index update: a driver
 * reading the first (virtio-net's num_buffers) finds the rest there. */
void virtq_push_batch(struct virtq *q, const uint16_t *heads, const uint32_t *written, unsigned n);
/* Gives back the last n popped, unpushed requests (a device that found
 * too few buffers); they will be popped again. */
void virtq_unpop(struct virtq *q, unsigned n);
/* Someone else (vhost) served q and stopped: the device goes on from
 * last_avail, and the used index is wherever that left it in guest memory. */
void virtq_resync(struct virtq *q, uint16_t last_avail);
/* Whether the driver wants an interrupt for what was pushed since the last
 * one (VRING_AVAIL_F_NO_INTERRUPT or used_event). Updates the bookkeeping. */
bool virtq_should_notify(struct virtq *q);
/* Asks the driver not to notify (or to notify again) while the device polls. */
void virtq_set_notification(struct virtq *q, bool enable);

#endif
