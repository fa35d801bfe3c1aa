/* virtio-balloon, the traditional memory balloon (virtio 1.2 §5.5), with
 * the statistics queue and VIRTIO_BALLOON_F_DEFLATE_ON_OOM.
 *
 * Inflated pages are dropped with MADV_DONTNEED: guest RAM is private
 * anonymous memory, so the host frees them at once and a later guest touch
 * faults in a zero page. Deflating therefore needs no work, which is why
 * MUST_TELL_HOST is not offered. DEFLATE_ON_OOM is offered: the balloon is
 * a request, not a limit, and a guest about to kill its own processes
 * should rather take pages back; the host sees that in `actual`. */
#include "virtio/balloon.h"
#include "util/error_priv.h"
#include "virtio/devices.h"
#include <endian.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define VIRTIO_BALLOON_F_STATS_VQ	1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2

#define BALLOON_INFLATEQ 0
#define BALLOON_DEFLATEQ 1
#define BALLOON_STATSQ	 2

/* Linux sends at most 256 PFNs a buffer; a longer one only costs us time. */
#define BALLOON_MAX_PFNS 65536

struct virtio_balloon {
	struct virtio_dev dev;
	uint64_t mem_size;
	/* num_pages (host-written), actual (guest-written), little-endian. */
	uint32_t config[2];

	pthread_mutex_t lock; /* guards everything below */
	uint32_t target_pages;
	uint32_t actual_pages;
	vmk_balloon_stats stats;
	/* The stats buffer the device holds until it wants fresh figures. */
	bool stats_held;
	uint16_t stats_head;
	bool refresh_posted;

	struct virtq_elem elem; /* I/O thread only */
};

static void release(uint8_t *start, size_t len)
{
	if (len)
		madvise(start, len, MADV_DONTNEED);
}

unsigned balloon_inflate_pfns(const struct gmem *mem, const struct virtq_elem *e, unsigned *rejected)
{
	uint32_t pfns[256];
	uint8_t *run = NULL;
	size_t run_len = 0;
	unsigned released = 0;
	size_t off = 0;

	*rejected = 0;
	while (off / 4 < BALLOON_MAX_PFNS) {
		size_t got = iov_copy_from(e->iov, e->nout, off, pfns, sizeof(pfns));
		unsigned n = (unsigned)(got / 4);

		for (unsigned i = 0; i < n; i++) {
			uint64_t gpa = (uint64_t)le32toh(pfns[i]) << BALLOON_PAGE_SHIFT;
			uint8_t *p = gmem_ptr(mem, gpa, BALLOON_PAGE_SIZE);

			if (!p) {
				(*rejected)++;
				continue;
			}
			released++;
			/* Linux inflates runs of neighbours: one madvise per run. */
			if (p == run + run_len) {
				run_len += BALLOON_PAGE_SIZE;
				continue;
			}
			release(run, run_len);
			run = p;
			run_len = BALLOON_PAGE_SIZE;
		}
		if (got < sizeof(pfns))
			break;
		off += got;
	}
	release(run, run_len);
	return released;
}

static void stats_clear(vmk_balloon_stats *st)
{
	st->swap_in = st->swap_out = st->major_faults = st->minor_faults = UINT64_MAX;
	st->free_memory = st->total_memory = st->available_memory = st->disk_caches = UINT64_MAX;
}

unsigned balloon_parse_stats(const struct virtq_elem *e, vmk_balloon_stats *st)
{
	unsigned n;

	stats_clear(st);
	for (n = 0; n < BALLOON_MAX_STATS; n++) {
		uint8_t ent[10];
		uint16_t tag;
		uint64_t val;

		if (iov_copy_from(e->iov, e->nout, (size_t)n * sizeof(ent), ent, sizeof(ent)) < sizeof(ent))
			break;
		memcpy(&tag, ent, 2);
		memcpy(&val, ent + 2, 8);
		val = le64toh(val);
		switch (le16toh(tag)) {
		case VIRTIO_BALLOON_S_SWAP_IN:
			st->swap_in = val;
			break;
		case VIRTIO_BALLOON_S_SWAP_OUT:
			st->swap_out = val;
			break;
		case VIRTIO_BALLOON_S_MAJFLT:
			st->major_faults = val;
			break;
		case VIRTIO_BALLOON_S_MINFLT:
			st->minor_faults = val;
			break;
		case VIRTIO_BALLOON_S_MEMFREE:
			st->free_memory = val;
			break;
		case VIRTIO_BALLOON_S_MEMTOT:
			st->total_memory = val;
			break;
		case VIRTIO_BALLOON_S_AVAIL:
			st->available_memory = val;
			break;
		case VIRTIO_BALLOON_S_CACHES:
			st->disk_caches = val;
			break;
		default:
			/* Newer drivers send tags (hugetlb, OOM kills...) we do not report. */
			break;
		}
	}
	return n;
}

static void balloon_drain(struct virtio_balloon *b, unsigned q)
{
	struct virtq *vq = virtio_queue(&b->dev, q);
	unsigned rejected;
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	while ((ret = virtq_pop(vq, &b->elem)) == 1) {
		if (q == BALLOON_INFLATEQ)
			balloon_inflate_pfns(virtio_mem(&b->dev), &b->elem, &rejected);
		virtq_push(vq, b->elem.head, 0);
		pushed = true;
	}
	if (ret < 0)
		virtio_set_needs_reset(&b->dev, "virtio-balloon: malformed inflate or deflate queue");
	if (pushed)
		virtio_notify_queue(&b->dev, q);
}

static void balloon_stats_arrived(struct virtio_balloon *b)
{
	struct virtq *vq = virtio_queue(&b->dev, BALLOON_STATSQ);
	vmk_balloon_stats st;
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	while ((ret = virtq_pop(vq, &b->elem)) == 1) {
		balloon_parse_stats(&b->elem, &st);
		pthread_mutex_lock(&b->lock);
		/* The driver owns one buffer; a second one must not be leaked. */
		if (b->stats_held) {
			virtq_push(vq, b->stats_head, 0);
			pushed = true;
		}
		b->stats.swap_in = st.swap_in;
		b->stats.swap_out = st.swap_out;
		b->stats.major_faults = st.major_faults;
		b->stats.minor_faults = st.minor_faults;
		b->stats.free_memory = st.free_memory;
		b->stats.total_memory = st.total_memory;
		b->stats.available_memory = st.available_memory;
		b->stats.disk_caches = st.disk_caches;
		b->stats_held = true;
		b->stats_head = b->elem.head;
		pthread_mutex_unlock(&b->lock);
	}
	if (ret < 0)
		virtio_set_needs_reset(&b->dev, "virtio-balloon: malformed statistics queue");
	if (pushed)
		virtio_notify_queue(&b->dev, BALLOON_STATSQ);
}

static void balloon_queue_notify(void *opaque, unsigned q)
{
	struct virtio_balloon *b = opaque;

	if (q == BALLOON_STATSQ)
		balloon_stats_arrived(b);
	else if (q == BALLOON_INFLATEQ || q == BALLOON_DEFLATEQ)
		balloon_drain(b, q);
}

/* On the I/O thread: returning the held buffer is how the device asks the
 * driver for new statistics (§5.5.6.3). */
static void balloon_refresh(void *opaque)
{
	struct virtio_balloon *b = opaque;
	struct virtq *vq = virtio_queue(&b->dev, BALLOON_STATSQ);
	bool pushed = false;

	pthread_mutex_lock(&b->lock);
	b->refresh_posted = false;
	if (vq && b->stats_held) {
		virtq_push(vq, b->stats_head, 0);
		b->stats_held = false;
		pushed = true;
	}
	pthread_mutex_unlock(&b->lock);
	if (pushed)
		virtio_notify_queue(&b->dev, BALLOON_STATSQ);
}

static void balloon_config_write(void *opaque, size_t off, unsigned size)
{
	struct virtio_balloon *b = opaque;

	pthread_mutex_lock(&b->lock);
	/* num_pages is the host's; a driver writing it is ignored. */
	if (off < 4)
		b->config[0] = htole32(b->target_pages);
	if (off + size > 4)
		b->actual_pages = le32toh(b->config[1]);
	pthread_mutex_unlock(&b->lock);
}

static void balloon_reset(void *opaque)
{
	struct virtio_balloon *b = opaque;

	pthread_mutex_lock(&b->lock);
	/* The queues are gone, and with them the driver's balloon. */
	b->stats_held = false;
	b->actual_pages = 0;
	b->config[1] = 0;
	stats_clear(&b->stats);
	pthread_mutex_unlock(&b->lock);
}

struct virtio_balloon *virtio_balloon_new(uint64_t mem_size, vmk_error **err)
{
	struct virtio_balloon *b;

	if (mem_size / BALLOON_PAGE_SIZE > UINT32_MAX) {
		vmk_set_error(err, VMK_ERR_NOT_SUPPORTED, "memory_balloon",
			      "memory_balloon: %llu bytes of memory is more than a balloon can describe",
			      (unsigned long long)mem_size);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "memory_balloon", "memory_balloon: out of memory");
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->mem_size = mem_size;
	stats_clear(&b->stats);
	b->dev = (struct virtio_dev){
	    .name = "virtio-balloon",
	    .device_id = VIRTIO_ID_BALLOON,
	    .pci_class = 0xff0000,
	    .features = 1ull << VIRTIO_BALLOON_F_STATS_VQ | 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
	    .num_queues = 3,
	    .queue_max_size = 256,
	    .config = (uint8_t *)b->config,
	    .config_size = sizeof(b->config),
	    .opaque = b,
	    .config_write = balloon_config_write,
	    .queue_notify = balloon_queue_notify,
	    .reset = balloon_reset,
	};
	return b;
}

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b)
{
	return &b->dev;
}

bool virtio_balloon_set_target(struct virtio_balloon *b, uint64_t guest_bytes, vmk_error **err)
{
	if (guest_bytes > b->mem_size)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "balloon_target",
				     "balloon_target: %llu bytes is more than the VM's %llu bytes of memory",
				     (unsigned long long)guest_bytes, (unsigned long long)b->mem_size);
	pthread_mutex_lock(&b->lock);
	b->target_pages = (uint32_t)((b->mem_size - guest_bytes) / BALLOON_PAGE_SIZE);
	/* vCPUs read the config space concurrently: one untorn store. */
	__atomic_store_n(&b->config[0], htole32(b->target_pages), __ATOMIC_RELEASE);
	pthread_mutex_unlock(&b->lock);
	virtio_config_changed(&b->dev);
	return true;
}

bool virtio_balloon_get_stats(struct virtio_balloon *b, vmk_balloon_stats *st, vmk_error **err)
{
	struct evloop *loop = virtio_io_loop(&b->dev);
	uint64_t actual;
	bool refresh;

	if (!st)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "stats", "stats is NULL");
	pthread_mutex_lock(&b->lock);
	*st = b->stats;
	st->target_bytes = b->mem_size - (uint64_t)b->target_pages * BALLOON_PAGE_SIZE;
	/* Guest-written: never report more than the VM has. */
	actual = (uint64_t)b->actual_pages * BALLOON_PAGE_SIZE;
	st->actual_bytes = actual < b->mem_size ? actual : b->mem_size;
	refresh = loop && b->stats_held && !b->refresh_posted;
	if (refresh)
		b->refresh_posted = true;
	pthread_mutex_unlock(&b->lock);
	/* Never wait for the guest: this may run on the I/O thread itself. */
	if (refresh && evloop_post(loop, balloon_refresh, b) != 0) {
		pthread_mutex_lock(&b->lock);
		b->refresh_posted = false;
		pthread_mutex_unlock(&b->lock);
	}
	return true;
}

void virtio_balloon_free(struct virtio_balloon *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}
