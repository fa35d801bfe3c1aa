/* A stand-in for the virtio PCI transport, as devices see it (virtio/virtio.h),
 * over real split queues in a guest-memory mapping, and the driver's side of
 * those queues: what the device unit tests drive devices with. Include once
 * per test program. */
#ifndef VMK_TEST_TRANSPORT_STUB_H
#define VMK_TEST_TRANSPORT_STUB_H

#include "virtio/virtio.h"
#include <string.h>
#include <unistd.h>

#define MiB	 (1024ull * 1024)
#define MEM_SIZE (64 * MiB)
#define NQ	 8
#define QSIZE	 16
#define DATA	 0x1000000ull /* where test buffers live in guest RAM */

static struct gmem mem;
static struct evloop *loop;
static uint64_t features;
static struct virtq tq[NQ];
static bool tq_on[NQ];
static int notified[NQ], config_changes, needs_reset;

/* The transport, as devices see it. */
struct virtq *virtio_queue(struct virtio_dev *d, unsigned q)
{
	(void)d;
	return q < NQ && tq_on[q] ? &tq[q] : NULL;
}

bool virtio_has_feature(struct virtio_dev *d, unsigned bit)
{
	(void)d;
	return (features >> bit) & 1;
}

void virtio_notify_queue(struct virtio_dev *d, unsigned q)
{
	(void)d;
	if (q < NQ)
		__atomic_add_fetch(&notified[q], 1, __ATOMIC_SEQ_CST);
}

void virtio_config_changed(struct virtio_dev *d)
{
	(void)d;
	config_changes++;
}

void virtio_set_needs_reset(struct virtio_dev *d, const char *why)
{
	(void)d;
	(void)why;
	needs_reset++;
}

struct evloop *virtio_io_loop(struct virtio_dev *d)
{
	(void)d;
	return loop;
}

const struct gmem *virtio_mem(struct virtio_dev *d)
{
	(void)d;
	return &mem;
}

/* No kernel data path here: virtio-net (over a socket) never asks. */
int virtio_queue_kick_fd(struct virtio_dev *d, unsigned q)
{
	(void)d;
	(void)q;
	return -1;
}

int virtio_queue_irqfd(struct virtio_dev *d, unsigned q)
{
	(void)d;
	(void)q;
	return -1;
}

void virtio_queue_set_external(struct virtio_dev *d, unsigned q, bool external)
{
	(void)d;
	(void)q;
	(void)external;
}

int virtio_vram_dirty(struct virtio_dev *d, uint64_t *first, uint64_t *end)
{
	(void)d;
	(void)first;
	(void)end;
	return -1;
}

void virtio_raise_queue(struct virtio_dev *d, unsigned q)
{
	virtio_notify_queue(d, q);
}

void virtio_run_locked(struct virtio_dev *d, void (*fn)(void *ctx), void *ctx)
{
	(void)d;
	fn(ctx);
}

/* The driver's side of queue q: rings at 0x100000 + q * 64 KiB. */
struct drvq {
	uint16_t next_desc, avail_idx, used_seen;
};
static struct drvq dq[NQ];

static inline uint64_t ring(unsigned q, unsigned part)
{
	return 0x100000ull + q * 0x10000ull + part * 0x1000ull;
}

static inline void *g(uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&mem, gpa, len);
}

static inline void queues_reset(void)
{
	memset(g(0x100000, NQ * 0x10000ull), 0, NQ * 0x10000ull);
	memset(dq, 0, sizeof(dq));
	memset(notified, 0, sizeof(notified));
	needs_reset = 0;
	for (unsigned q = 0; q < NQ; q++)
		tq_on[q] =
		    virtq_init(&tq[q], &mem, QSIZE, ring(q, 0), ring(q, 1), ring(q, 2), false, false) == 0;
}

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static inline uint16_t drv_add(unsigned q, const struct buf *b, unsigned n)
{
	uint16_t head = dq[q].next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE);
		uint8_t *d = g(ring(q, 0) + 16ull * idx, 16);
		uint16_t flags = (b[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		uint16_t next = (uint16_t)((idx + 1) % QSIZE);

		memcpy(d, &b[i].gpa, 8);
		memcpy(d + 8, &b[i].len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
	}
	dq[q].next_desc = (uint16_t)((head + n) % QSIZE);
	uint8_t *avail = g(ring(q, 1), 4 + 2 * QSIZE);
	memcpy(avail + 4 + 2 * (dq[q].avail_idx % QSIZE), &head, 2);
	dq[q].avail_idx++;
	__atomic_store_n((uint16_t *)(avail + 2), dq[q].avail_idx, __ATOMIC_RELEASE);
	return head;
}

static inline bool drv_used(unsigned q, uint32_t *id, uint32_t *len)
{
	uint8_t *used = g(ring(q, 2), 4 + 8 * QSIZE);
	uint16_t idx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);

	if (idx == dq[q].used_seen)
		return false;
	memcpy(id, used + 4 + 8 * (dq[q].used_seen % QSIZE), 4);
	memcpy(len, used + 8 + 8 * (dq[q].used_seen % QSIZE), 4);
	dq[q].used_seen++;
	return true;
}

static inline bool drv_wait_used(unsigned q, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 2000; i++) {
		if (drv_used(q, id, len))
			return true;
		usleep(5000);
	}
	return false;
}

static inline void elem_add(struct virtq_elem *e, void *p, size_t len, bool write)
{
	e->iov[e->nout + e->nin] = (struct iovec){p, len};
	if (write) {
		e->nin++;
		e->in_len += len;
	} else {
		e->nout++;
		e->out_len += len;
	}
}

#endif
