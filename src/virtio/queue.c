/* Split virtqueue walker (virtio 1.2 §2.7). The guest owns these rings and
 * may change them at any moment, so every field is read once into a local,
 * checked, and only then used; nothing read from the ring ever indexes host
 * memory without a bounds check. */
#include "virtio/queue.h"
#include <errno.h>
#include <string.h>

#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	   1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static inline uint16_t ld16(volatile uint8_t *p)
{
	uint16_t v;
	memcpy(&v, (const void *)p, sizeof(v));
	return v;
}

static inline void st16(volatile uint8_t *p, uint16_t v)
{
	memcpy((void *)p, &v, sizeof(v));
}

static inline void st32(volatile uint8_t *p, uint32_t v)
{
	memcpy((void *)p, &v, sizeof(v));
}

int virtq_init(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc, uint64_t avail,
	       uint64_t used, bool event_idx, bool indirect)
{
	memset(q, 0, sizeof(*q));
	if (size == 0 || size > 32768 || (size & (size - 1)))
		return -EINVAL;
	/* Alignment per §2.7: descriptor table 16, available ring 2, used ring 4. */
	if ((desc & 15) || (avail & 1) || (used & 3))
		return -EINVAL;
	uint64_t desc_len = 16ULL * size;
	uint64_t avail_len = 6 + 2ULL * size;
	uint64_t used_len = 6 + 8ULL * size;
	q->desc = gmem_ptr(mem, desc, desc_len);
	q->avail = gmem_ptr(mem, avail, avail_len);
	q->used = gmem_ptr(mem, used, used_len);
	if (!q->desc || !q->avail || !q->used)
		return -EINVAL;
	q->mem = mem;
	q->size = size;
	q->event_idx = event_idx;
	q->indirect = indirect;
	return 0;
}

static void read_desc(volatile uint8_t *table, uint32_t i, struct vring_desc *d)
{
	memcpy(d, (const void *)(table + 16ULL * i), sizeof(*d));
}

/* Adds one buffer to e, enforcing "readable before writable". */
static int add_buf(struct virtq *q, struct virtq_elem *e, const struct vring_desc *d)
{
	if (e->nout + e->nin >= VIRTQ_MAX_IOV)
		return -EINVAL;
	void *p = gmem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return -EINVAL;
	struct iovec *iov = &e->iov[e->nout + e->nin];
	iov->iov_base = p;
	iov->iov_len = d->len;
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		e->nin++;
		e->in_len += d->len;
	} else {
		if (e->nin)
			return -EINVAL;
		e->nout++;
		e->out_len += d->len;
	}
	return 0;
}

/* Walks an indirect table (§2.7.5.3): no nesting, no NEXT outside it. */
static int walk_indirect(struct virtq *q, struct virtq_elem *e, const struct vring_desc *ind)
{
	if (!q->indirect || (ind->flags & VIRTQ_DESC_F_WRITE) || ind->len == 0 || ind->len % 16)
		return -EINVAL;
	uint32_t n = ind->len / 16;
	if (n > VIRTQ_MAX_IOV)
		return -EINVAL;
	volatile uint8_t *table = gmem_ptr(q->mem, ind->addr, ind->len);
	if (!table)
		return -EINVAL;
	uint32_t i = 0;
	/* A chain in the table visits at most n entries: more means a loop. */
	for (uint32_t steps = 0;; steps++) {
		if (steps >= n || i >= n)
			return -EINVAL;
		struct vring_desc d;
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;
		int r = add_buf(q, e, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	if (!q->desc)
		return 0;
	uint16_t avail_idx = ld16(q->avail + 2);
	/* The driver never has more than size entries outstanding. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return -EINVAL;
	if (avail_idx == q->last_avail)
		return 0;
	/* Read the ring entry only after seeing the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	uint16_t head = ld16(q->avail + 4 + 2u * (q->last_avail % q->size));
	if (head >= q->size)
		return -EINVAL;
	e->head = head;
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;

	uint32_t i = head;
	for (uint32_t steps = 0;; steps++) {
		if (steps >= q->size || i >= q->size)
			return -EINVAL;
		struct vring_desc d;
		read_desc(q->desc, i, &d);
		int r;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* An indirect descriptor stands alone in its chain. */
			if ((d.flags & VIRTQ_DESC_F_NEXT) || e->nout + e->nin)
				return -EINVAL;
			r = walk_indirect(q, e, &d);
			if (r < 0)
				return r;
			break;
		}
		r = add_buf(q, e, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		i = d.next;
	}
	q->last_avail++;
	if (q->event_idx) {
		/* avail_event: tell the driver which index we will look at next. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		st16(q->used + 4 + 8u * q->size, q->last_avail);
	}
	return 1;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	if (!q->used)
		return;
	volatile uint8_t *elem = q->used + 4 + 8u * (q->used_idx % q->size);
	st32(elem, head);
	st32(elem + 4, written);
	/* The element must be visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx++;
	st16(q->used + 2, q->used_idx);
}

void virtq_resync(struct virtq *q, uint16_t last_avail)
{
	if (!q->used)
		return;
	q->last_avail = last_avail;
	/* A guest that rewrote the index only confuses its own driver: every
	 * used write stays inside the ring. */
	q->used_idx = ld16(q->used + 2);
	q->signalled_valid = false;
}

bool virtq_should_notify(struct virtq *q)
{
	if (!q->used)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(ld16(q->avail) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* vring_need_event(): did used_idx move past used_event since old? */
	uint16_t used_event = ld16(q->avail + 4 + 2u * q->size);
	return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

void virtq_push_batch(struct virtq *q, const uint16_t *heads, const uint32_t *written, unsigned n)
{
	if (!q->used || !n)
		return;
	for (unsigned i = 0; i < n; i++) {
		volatile uint8_t *elem = q->used + 4 + 8u * ((uint16_t)(q->used_idx + i) % q->size);
		st32(elem, heads[i]);
		st32(elem + 4, written[i]);
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx = (uint16_t)(q->used_idx + n);
	st16(q->used + 2, q->used_idx);
}

void virtq_unpop(struct virtq *q, unsigned n)
{
	/* avail_event stays where the pops left it, past every entry seen: the
	 * driver kicks once it publishes more, which is what a device short of
	 * buffers waits for. Lowering it to last_avail would name an index the
	 * driver already passed, so vring_need_event() would never fire again
	 * and the queue would stall for good. */
	q->last_avail = (uint16_t)(q->last_avail - n);
}

void virtq_set_notification(struct virtq *q, bool enable)
{
	if (!q->used)
		return;
	if (q->event_idx)
		st16(q->used + 4 + 8u * q->size, q->last_avail);
	else
		st16(q->used, enable ? 0 : VRING_USED_F_NO_NOTIFY);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
