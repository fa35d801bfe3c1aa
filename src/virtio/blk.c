/* virtio-blk (virtio 1.2 section 5.2) over a disk backend (src/attach/disk.c).
 * The I/O thread pops a chain, blk_parse_request() turns it into a checked
 * request, and the backend runs it asynchronously; completions come back
 * on the same thread through the backend's eventfd. Any number of request
 * queues share the one backend. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "attach/disk.h"
#include "util/error_priv.h"
#include "virtio/blk.h"
#include "virtio/devices.h"

#define QUEUE_SIZE 256
/* Linux sizes its scatterlists from seg_max; header and status take two. */
#define SEG_MAX (QUEUE_SIZE - 2)
/* Discard granularity: 4 KiB, the block size of the usual host file systems. */
#define DISCARD_ALIGN_SECTORS 8

/* struct virtio_blk_config up to the write-zeroes fields (5.2.4). */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

struct blk_req {
	struct disk_io io;
	struct virtio_blk *b;
	unsigned q;
	uint16_t head;
	uint32_t gen;
	unsigned seg_next; /* DISCARD, WRITE_ZEROES run one segment at a time */
	struct blk_req *next_free;
	struct blk_request r;
};

struct virtio_blk {
	struct virtio_dev dev;
	struct blk_config config;
	char serial[VIRTIO_BLK_ID_BYTES];
	unsigned index;

	/* I/O thread only (or the event thread before the I/O thread runs). */
	struct disk *disk;	/* NULL: no media */
	struct evloop *watched; /* the loop watching disk's eventfd */
	struct virtq_elem elem;
	struct blk_req *free_reqs;
	unsigned inflight[VIRTIO_MAX_QUEUES];
	uint64_t notify; /* queues with used entries not yet signalled */
	bool closing;

	/* Bumped by reset (vCPU thread): older requests are dropped on completion. */
	uint32_t gen;
};

static void flush_notifications(struct virtio_blk *b)
{
	for (unsigned q = 0; b->notify; q++) {
		if (b->notify & (1ull << q))
			virtio_notify_queue(&b->dev, q);
		b->notify &= ~(1ull << q);
	}
}

static void req_free(struct virtio_blk *b, struct blk_req *req)
{
	req->next_free = b->free_reqs;
	b->free_reqs = req;
}

static void complete(struct blk_req *req, uint8_t status)
{
	struct virtio_blk *b = req->b;
	uint32_t written = 1;
	struct virtq *vq;

	b->inflight[req->q]--;
	if (b->closing || req->gen != __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE))
		goto out;
	vq = virtio_queue(&b->dev, req->q);
	if (!vq)
		goto out;
	*req->r.status = status;
	if (status == VIRTIO_BLK_S_OK && req->r.type == VIRTIO_BLK_T_IN)
		written += (uint32_t)req->r.data_len;
	if (status == VIRTIO_BLK_S_OK && req->r.type == VIRTIO_BLK_T_GET_ID)
		written += VIRTIO_BLK_ID_BYTES;
	virtq_push(vq, req->head, written);
	b->notify |= 1ull << req->q;
out:
	req_free(b, req);
}

static void io_done(struct disk_io *io, int res);

/* Submits the next segment of a DISCARD or WRITE_ZEROES. */
static int submit_segment(struct blk_req *req)
{
	const struct blk_segment *s = &req->r.seg[req->seg_next++];

	req->io = (struct disk_io){
	    .op = req->r.type == VIRTIO_BLK_T_DISCARD ? DISK_DISCARD : DISK_WRITE_ZEROES,
	    .offset = s->sector * BLK_SECTOR,
	    .len = (uint64_t)s->num_sectors * BLK_SECTOR,
	    .may_unmap = s->unmap,
	    .done = io_done,
	};
	return disk_submit(req->b->disk, &req->io);
}

static void io_done(struct disk_io *io, int res)
{
	struct blk_req *req = (struct blk_req *)((char *)io - offsetof(struct blk_req, io));

	if (res == 0 && req->seg_next && req->seg_next < req->r.nseg && !req->b->closing &&
	    submit_segment(req) == 0)
		return;
	complete(req, res ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static void execute(struct virtio_blk *b, struct blk_req *req)
{
	struct blk_request *r = &req->r;
	int ret = 0;

	if (!b->disk)
		return complete(req, VIRTIO_BLK_S_IOERR);
	switch (r->type) {
	case VIRTIO_BLK_T_GET_ID:
		iov_copy_to(r->iov, r->niov, 0, b->serial, VIRTIO_BLK_ID_BYTES);
		return complete(req, VIRTIO_BLK_S_OK);
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (!r->data_len)
			return complete(req, VIRTIO_BLK_S_OK);
		req->io = (struct disk_io){
		    .op = r->type == VIRTIO_BLK_T_IN ? DISK_READ : DISK_WRITE,
		    .offset = r->sector * BLK_SECTOR,
		    .iov = r->iov,
		    .iovcnt = r->niov,
		    .done = io_done,
		};
		ret = disk_submit(b->disk, &req->io);
		break;
	case VIRTIO_BLK_T_FLUSH:
		req->io = (struct disk_io){.op = DISK_FLUSH, .done = io_done};
		ret = disk_submit(b->disk, &req->io);
		break;
	default:
		ret = submit_segment(req);
		break;
	}
	if (ret)
		complete(req, VIRTIO_BLK_S_IOERR);
}

static void blk_disk_event(void *ctx, uint32_t events)
{
	struct virtio_blk *b = ctx;

	(void)events;
	disk_complete(b->disk);
	flush_notifications(b);
}

/* The backend's eventfd is watched by whichever loop runs the queues; the
 * device learns which at its first notification. */
static void watch_disk(struct virtio_blk *b, struct evloop *loop)
{
	if (b->disk && loop && !b->watched &&
	    evloop_add_fd(loop, disk_event_fd(b->disk), EPOLLIN, blk_disk_event, b) == 0)
		b->watched = loop;
}

static void unwatch_disk(struct virtio_blk *b)
{
	if (b->watched)
		evloop_del_fd(b->watched, disk_event_fd(b->disk));
	b->watched = NULL;
}

static struct blk_req *req_alloc(struct virtio_blk *b)
{
	struct blk_req *req = b->free_reqs;

	if (req)
		b->free_reqs = req->next_free;
	else
		req = malloc(sizeof(*req));
	return req;
}

static void blk_queue_notify(void *opaque, unsigned q)
{
	struct virtio_blk *b = opaque;
	struct virtq *vq = virtio_queue(&b->dev, q);
	uint64_t capacity = b->disk ? disk_size(b->disk) / BLK_SECTOR : 0;
	bool ro = b->disk && disk_read_only(b->disk);
	struct blk_req *req;
	int ret, st;

	if (q >= b->dev.num_queues || !vq)
		return;
	watch_disk(b, virtio_io_loop(&b->dev));
	while ((ret = virtq_pop(vq, &b->elem)) == 1) {
		/* A driver cannot have more requests out than descriptors. */
		if (b->inflight[q] >= vq->size) {
			ret = -EINVAL;
			break;
		}
		req = req_alloc(b);
		if (!req) {
			ret = -ENOMEM;
			break;
		}
		st = blk_parse_request(&b->elem, capacity, ro, &req->r);
		if (st < 0) {
			req_free(b, req);
			ret = st;
			break;
		}
		req->b = b;
		req->q = q;
		req->head = b->elem.head;
		req->gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
		req->seg_next = 0;
		b->inflight[q]++;
		if (st == VIRTIO_BLK_S_OK)
			execute(b, req);
		else
			complete(req, (uint8_t)st);
	}
	if (b->disk)
		disk_kick(b->disk);
	flush_notifications(b);
	if (ret == -ENOMEM)
		virtio_set_needs_reset(&b->dev, "virtio-blk: out of memory for requests");
	else if (ret < 0)
		virtio_set_needs_reset(&b->dev, "virtio-blk: malformed request");
}

/* Requests still in flight complete into the void: their queues are gone. */
static void blk_reset(void *opaque)
{
	struct virtio_blk *b = opaque;

	__atomic_add_fetch(&b->gen, 1, __ATOMIC_RELEASE);
}

static void set_media(struct virtio_blk *b, struct disk *d)
{
	b->disk = d;
	b->config.capacity = d ? disk_size(d) / BLK_SECTOR : 0;
}

struct virtio_blk *virtio_blk_new(const struct vmk_storage_device *cfg, unsigned index, vmk_error **err)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	struct disk *d = NULL;

	if (!b) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "storage_devices",
			      "storage_devices: out of memory");
		return NULL;
	}
	if (cfg->attachment) {
		char field[48];
		snprintf(field, sizeof(field), "storage_devices[%u].attachment", index);
		d = disk_open(cfg->attachment, DISK_ENGINE_AUTO, field, err);
		if (!d) {
			free(b);
			return NULL;
		}
	}
	b->index = index;
	memcpy(b->serial, cfg->identifier, strnlen(cfg->identifier, sizeof(b->serial)));
	set_media(b, d);
	b->config.seg_max = SEG_MAX;
	b->config.blk_size = BLK_SECTOR;
	b->config.num_queues = (uint16_t)cfg->num_queues;
	b->config.max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
	b->config.max_discard_seg = BLK_MAX_DISCARD_SEG;
	b->config.discard_sector_alignment = DISCARD_ALIGN_SECTORS;
	b->config.max_write_zeroes_sectors = BLK_MAX_DISCARD_SECTORS;
	b->config.max_write_zeroes_seg = BLK_MAX_DISCARD_SEG;
	b->config.write_zeroes_may_unmap = 1;
	b->dev = (struct virtio_dev){
	    .name = "virtio-blk",
	    .device_id = VIRTIO_ID_BLOCK,
	    .pci_class = 0x010000,
	    .features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_MQ | 1ull << VIRTIO_BLK_F_DISCARD |
			1ull << VIRTIO_BLK_F_WRITE_ZEROES,
	    .num_queues = cfg->num_queues ? cfg->num_queues : 1,
	    .queue_max_size = QUEUE_SIZE,
	    .config = (uint8_t *)&b->config,
	    .config_size = sizeof(b->config),
	    .opaque = b,
	    .queue_notify = blk_queue_notify,
	    .reset = blk_reset,
	};
	/* An empty drive is writable: RO is fixed at feature negotiation, and
	 * read-only media inserted later fail writes with IOERR instead. */
	if (d && disk_read_only(d))
		b->dev.features |= 1ull << VIRTIO_BLK_F_RO;
	return b;
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *b)
{
	return &b->dev;
}

struct media_swap {
	struct virtio_blk *b;
	struct disk *new_disk, *old_disk;
};

/* On the I/O thread, so no request is being parsed or completed meanwhile:
 * the old backend's requests finish into their queues first. */
static void swap_media(void *ctx)
{
	struct media_swap *s = ctx;
	struct virtio_blk *b = s->b;
	struct evloop *loop = b->watched;

	s->old_disk = b->disk;
	if (s->old_disk) {
		unwatch_disk(b);
		disk_drain(s->old_disk);
		flush_notifications(b);
	}
	set_media(b, s->new_disk);
	watch_disk(b, loop);
}

/* Linux re-reads the capacity on a config interrupt but not RO, which it
 * only learns at probe: see virtio_blk_new() for what that means. */
bool virtio_blk_change_media(struct virtio_blk *b, const struct vmk_storage_attachment *a, vmk_error **err)
{
	struct media_swap s = {.b = b};

	if (a) {
		s.new_disk = disk_open(a, DISK_ENGINE_AUTO, "attachment", err);
		if (!s.new_disk)
			return false;
	}
	if (b->dev.transport)
		evloop_call(virtio_io_loop(&b->dev), swap_media, &s);
	else
		swap_media(&s);
	disk_close(s.old_disk);
	if (b->dev.transport)
		virtio_config_changed(&b->dev);
	return true;
}

void virtio_blk_free(struct virtio_blk *b)
{
	struct blk_req *req;

	if (!b)
		return;
	/* The I/O loop is gone already: nothing to unwatch. */
	b->closing = true;
	disk_close(b->disk);
	while ((req = b->free_reqs)) {
		b->free_reqs = req->next_free;
		free(req);
	}
	free(b);
}
