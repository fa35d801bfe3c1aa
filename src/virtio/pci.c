/* virtio over PCI, modern interface (virtio 1.2 §4.1). BAR0 (32 KiB; BAR4
 * for a VGA-compatible device, whose BARs 0 and 2 are its VGA's) holds
 * every structure: common config 0x0000, ISR 0x1000, device config 0x2000,
 * notifications 0x3000 (4 bytes per queue), MSI-X table 0x4000, PBA 0x5000.
 * BAR2 (BAR5 beside VGA) is a small I/O BAR with the notifications again (2 ports per queue),
 * and its capability comes first in the list, so Linux (which takes the
 * first notify capability it can map) kicks with OUT: KVM completes a port
 * write from the exit information alone, while an MMIO write on AMD (and
 * under nested virtualization) costs an instruction decode and emulation
 * for every kick. Drivers that want memory (OVMF takes the last one) use
 * BAR0's. Both reach the same ioeventfds' queues.
 * Register accesses come from vCPU threads under the transport lock; queue
 * kicks and device work happen on the I/O thread. Anything that must wait
 * for the I/O thread (reset) runs after the lock is dropped, since the I/O
 * thread takes the lock to raise interrupts. */
#include "virtio/pci.h"
#include "platform/platform.h"
#include "util/error_priv.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BAR0_SIZE    0x8000
#define OFF_COMMON   0x0000
#define OFF_ISR	     0x1000
#define OFF_DEVICE   0x2000
#define OFF_NOTIFY   0x3000
#define OFF_MSIX     0x4000
#define OFF_PBA	     0x5000
#define NOTIFY_MULT  4
#define VGA_BAR_SIZE 0x1000
/* Where the vram slot of the device in PCI slot n goes: after guest RAM's. */
#define VRAM_MEMSLOT(n) (16 + (n))
#define IO_MULT		2
#define NO_VECTOR	0xffff

#define CAP_COMMON  1
#define CAP_NOTIFY  2
#define CAP_ISR	    3
#define CAP_DEVICE  4
#define CAP_PCI_CFG 5

struct vq_state {
	uint16_t size;
	uint16_t vector;
	bool enabled;
	uint64_t desc, driver, device;
	struct virtq q;
	int kick_fd;
	uint32_t kick_len; /* length the ioeventfd was registered with */
	bool kick_watched;
	bool external; /* kicks go to the device's own consumer (vhost), not kick_cb */
	struct virtio_pci *t;
	unsigned index;
};

struct msix_vec {
	uint64_t addr;
	uint32_t data;
	uint32_t ctrl; /* bit 0: masked */
	int gsi;
	int fd;
	bool pending;
};

struct virtio_pci {
	struct pci_dev pci;
	struct virtio_dev *dev;
	struct virtio_pci_env env;
	pthread_mutex_t lock;

	uint64_t features; /* offered */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint8_t status;
	/* The device runs (kicks watched, activated): DRIVER_OK was written
	 * while bus mastering was on, or bus mastering came on after it. */
	bool live;
	bool master; /* PCI_COMMAND_MASTER as last seen */
	uint8_t config_gen;
	uint8_t isr;
	uint16_t queue_select;
	uint16_t config_vector;
	struct vq_state vqs[VIRTIO_MAX_QUEUES];

	unsigned nvec;
	struct msix_vec *vec;
	uint8_t msix_cap;
	uint8_t cfg_cap;	  /* VIRTIO_PCI_CAP_PCI_CFG: BAR access through config space */
	uint64_t notify_base;	  /* where the ioeventfds are registered, 0: none */
	uint64_t io_notify_base;  /* the same for the I/O BAR's ports */
	unsigned mem_bar, io_bar; /* the virtio BARs: 0 and 2, or 4 and 5 beside VGA */
	uint64_t vram_at;	  /* where the vram slot is mapped, 0: nowhere */
};

/* MMIO: length 0 matches a write of any size and lets KVM complete the
 * notify on its fast MMIO path (VMX), without decoding the guest's
 * instruction (as QEMU registers it); a KVM that refuses that gets the
 * 16-bit notify the spec describes. Ports: the 16-bit write of §4.1.5.2.
 * Removal repeats the length that was registered. */
static void ioeventfd(struct virtio_pci *t, unsigned q, uint64_t base, bool io, bool assign)
{
	struct kvm_ioeventfd e = {
	    .addr = base + OFF_NOTIFY + (uint64_t)q * NOTIFY_MULT,
	    .len = assign ? 0 : t->vqs[q].kick_len,
	    .fd = t->vqs[q].kick_fd,
	    .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	if (io) {
		e.addr = base + (uint64_t)q * IO_MULT;
		e.len = 2;
		e.flags |= KVM_IOEVENTFD_FLAG_PIO;
		ioctl(t->env.vm_fd, KVM_IOEVENTFD, &e);
		return;
	}
	if (ioctl(t->env.vm_fd, KVM_IOEVENTFD, &e) < 0 && assign) {
		e.len = 2;
		ioctl(t->env.vm_fd, KVM_IOEVENTFD, &e);
	}
	if (assign)
		t->vqs[q].kick_len = e.len;
}

/* Moves a set of notify ioeventfds from *cur to base (0: none). */
static void move_notify(struct virtio_pci *t, uint64_t *cur, uint64_t base, bool io)
{
	if (base == *cur)
		return;
	for (unsigned q = 0; q < t->dev->num_queues; q++) {
		if (*cur)
			ioeventfd(t, q, *cur, io, false);
		if (base)
			ioeventfd(t, q, base, io, true);
	}
	*cur = base;
}

/* Follows BAR0 and the I/O BAR wherever the guest puts them (lock held). */
static void rearm_notify(struct virtio_pci *t)
{
	move_notify(t, &t->notify_base, pci_dev_bar_addr(&t->pci, t->mem_bar), false);
	move_notify(t, &t->io_notify_base, pci_dev_bar_addr(&t->pci, t->io_bar), true);
}

/* Maps vram where BAR 0 is now (lock held). A BAR placed over something
 * KVM already maps is left unmapped: accesses then trap and are served
 * from vram by bar_read/bar_write, slowly but correctly. */
static void remap_vram(struct virtio_pci *t)
{
	uint64_t at = pci_dev_bar_addr(&t->pci, 0);
	if (!t->dev->vram || at == t->vram_at)
		return;
	struct kvm_userspace_memory_region r = {.slot = VRAM_MEMSLOT(t->pci.slot),
						.userspace_addr = (uintptr_t)t->dev->vram};
	if (t->vram_at) {
		r.guest_phys_addr = t->vram_at;
		ioctl(t->env.vm_fd, KVM_SET_USER_MEMORY_REGION, &r); /* size 0: removed */
		t->vram_at = 0;
	}
	if (!at)
		return;
	r.guest_phys_addr = at;
	r.memory_size = t->dev->vram_size;
	r.flags = KVM_MEM_LOG_DIRTY_PAGES; /* what the display must redraw */
	if (ioctl(t->env.vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0)
		t->vram_at = at;
}

int virtio_vram_dirty(struct virtio_dev *d, uint64_t *first, uint64_t *end)
{
	struct virtio_pci *t = d->transport;
	uint64_t pages = d->vram_size / 4096, words = (pages + 63) / 64;
	uint64_t bitmap[1024]; /* 256 MiB of vram at most */

	if (!d->vram || words > sizeof(bitmap) / sizeof(bitmap[0]))
		return -1;
	pthread_mutex_lock(&t->lock);
	struct kvm_dirty_log log = {.slot = VRAM_MEMSLOT(t->pci.slot), .dirty_bitmap = bitmap};
	int ok = t->vram_at && ioctl(t->env.vm_fd, KVM_GET_DIRTY_LOG, &log) == 0;
	pthread_mutex_unlock(&t->lock);
	if (!ok)
		return -1;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint64_t i = 0; i < words; i++) {
		if (!bitmap[i])
			continue;
		uint64_t p0 = i * 64 + (uint64_t)__builtin_ctzll(bitmap[i]);
		uint64_t p1 = i * 64 + 63 - (uint64_t)__builtin_clzll(bitmap[i]);
		lo = p0 < lo ? p0 : lo;
		hi = p1 + 1 > hi ? p1 + 1 : hi;
	}
	if (lo == UINT64_MAX)
		return 0;
	*first = lo * 4096;
	*end = hi * 4096;
	return 1;
}

static bool msix_enabled(struct virtio_pci *t)
{
	return t->pci.cfg[t->msix_cap + 3] & 0x80;
}

static bool msix_func_masked(struct virtio_pci *t)
{
	return t->pci.cfg[t->msix_cap + 3] & 0x40;
}

/* Raises MSI-X vector v, or records it pending while masked. Lock held.
 * Without bus mastering the function cannot write its message: dropped. */
static void signal_vector(struct virtio_pci *t, uint16_t v)
{
	if (v == NO_VECTOR || v >= t->nvec || !msix_enabled(t) || !t->master)
		return;
	struct msix_vec *m = &t->vec[v];
	if (msix_func_masked(t) || (m->ctrl & 1)) {
		m->pending = true;
		return;
	}
	uint64_t one = 1;
	(void)!write(m->fd, &one, sizeof(one));
}

static void msix_update(struct virtio_pci *t, unsigned v)
{
	struct msix_vec *m = &t->vec[v];
	irq_router_set_msi(t->env.irq, (unsigned)m->gsi, m->addr, m->data, true);
	if (m->pending && !(m->ctrl & 1) && !msix_func_masked(t) && msix_enabled(t) && t->master) {
		m->pending = false;
		uint64_t one = 1;
		(void)!write(m->fd, &one, sizeof(one));
	}
}

/* A queue kick, on the I/O thread. */
static void kick_cb(void *ctx, uint32_t events)
{
	struct vq_state *vq = ctx;
	struct virtio_pci *t = vq->t;
	(void)events;
	uint64_t n;
	if (read(vq->kick_fd, &n, sizeof(n)) < 0)
		return;
	if (t->dev->queue_notify)
		t->dev->queue_notify(t->dev->opaque, vq->index);
}

static void reset_on_io(void *arg)
{
	struct virtio_pci *t = arg;
	for (unsigned q = 0; q < t->dev->num_queues; q++) {
		if (t->vqs[q].kick_watched)
			evloop_del_fd(t->env.io, t->vqs[q].kick_fd);
		t->vqs[q].kick_watched = false;
		t->vqs[q].external = false;
	}
	if (t->dev->reset)
		t->dev->reset(t->dev->opaque);
}

static void device_reset_state(struct virtio_pci *t)
{
	t->status = 0;
	t->live = false;
	t->driver_features = 0;
	t->dfselect = t->gfselect = 0;
	t->queue_select = 0;
	t->config_vector = NO_VECTOR;
	t->isr = 0;
	for (unsigned q = 0; q < t->dev->num_queues; q++) {
		struct vq_state *vq = &t->vqs[q];
		vq->size = t->dev->queue_max_size;
		vq->vector = NO_VECTOR;
		vq->enabled = false;
		vq->desc = vq->driver = vq->device = 0;
		memset(&vq->q, 0, sizeof(vq->q));
	}
}

static void needs_reset_locked(struct virtio_pci *t)
{
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	t->isr |= 2;
	signal_vector(t, t->config_vector);
}

void virtio_set_needs_reset(struct virtio_dev *d, const char *why)
{
	struct virtio_pci *t = d->transport;
	(void)why;
	pthread_mutex_lock(&t->lock);
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		needs_reset_locked(t);
	pthread_mutex_unlock(&t->lock);
}

void virtio_config_changed(struct virtio_dev *d)
{
	struct virtio_pci *t = d->transport;
	pthread_mutex_lock(&t->lock);
	t->config_gen++;
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		t->isr |= 2;
		signal_vector(t, t->config_vector);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_notify_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *t = d->transport;
	if (q >= d->num_queues || !virtq_should_notify(&t->vqs[q].q))
		return;
	pthread_mutex_lock(&t->lock);
	t->isr |= 1;
	signal_vector(t, t->vqs[q].vector);
	pthread_mutex_unlock(&t->lock);
}

struct virtq *virtio_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *t = d->transport;
	if (q >= d->num_queues || !t->vqs[q].enabled)
		return NULL;
	return &t->vqs[q].q;
}

bool virtio_has_feature(struct virtio_dev *d, unsigned bit)
{
	return bit < 64 && (d->transport->driver_features >> bit) & 1;
}

struct evloop *virtio_io_loop(struct virtio_dev *d)
{
	return d->transport->env.io;
}

const struct gmem *virtio_mem(struct virtio_dev *d)
{
	return d->transport->env.mem;
}

/* MSI-X routing or masking may have changed (lock held). */
static void irq_changed(struct virtio_pci *t)
{
	if (t->dev->irq_changed)
		t->dev->irq_changed(t->dev->opaque);
}

int virtio_queue_irqfd(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *t = d->transport;
	uint16_t v = q < d->num_queues ? t->vqs[q].vector : NO_VECTOR;
	if (v == NO_VECTOR || v >= t->nvec || !msix_enabled(t) || msix_func_masked(t) || (t->vec[v].ctrl & 1))
		return -1;
	return t->vec[v].fd;
}

void virtio_raise_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *t = d->transport;
	if (q >= d->num_queues)
		return;
	pthread_mutex_lock(&t->lock);
	t->isr |= 1;
	signal_vector(t, t->vqs[q].vector);
	pthread_mutex_unlock(&t->lock);
}

void virtio_run_locked(struct virtio_dev *d, void (*fn)(void *ctx), void *ctx)
{
	struct virtio_pci *t = d->transport;
	pthread_mutex_lock(&t->lock);
	fn(ctx);
	pthread_mutex_unlock(&t->lock);
}

int virtio_queue_kick_fd(struct virtio_dev *d, unsigned q)
{
	return q < d->num_queues ? d->transport->vqs[q].kick_fd : -1;
}

void virtio_queue_set_external(struct virtio_dev *d, unsigned q, bool external)
{
	struct virtio_pci *t = d->transport;
	if (q >= d->num_queues || t->vqs[q].external == external)
		return;
	struct vq_state *vq = &t->vqs[q];
	vq->external = external;
	if (external && vq->kick_watched) {
		evloop_del_fd(t->env.io, vq->kick_fd);
		vq->kick_watched = false;
	} else if (!external && vq->enabled && t->live) {
		/* Level-triggered: a kick left in the counter is seen at once. */
		vq->kick_watched = evloop_add_fd(t->env.io, vq->kick_fd, EPOLLIN, kick_cb, vq) == 0;
	}
}

/* DRIVER_OK with bus mastering on: start listening for kicks, let the
 * device go. Lock held. */
static void driver_ok(struct virtio_pci *t)
{
	t->live = true;
	for (unsigned q = 0; q < t->dev->num_queues; q++) {
		struct vq_state *vq = &t->vqs[q];
		if (vq->enabled && !vq->kick_watched && !vq->external)
			vq->kick_watched = evloop_add_fd(t->env.io, vq->kick_fd, EPOLLIN, kick_cb, vq) == 0;
	}
	if (t->dev->activate && t->dev->activate(t->dev->opaque) < 0)
		needs_reset_locked(t);
}

static uint64_t common_read(struct virtio_pci *t, unsigned off, unsigned size)
{
	struct vq_state *vq = t->queue_select < t->dev->num_queues ? &t->vqs[t->queue_select] : NULL;
	switch (off) {
	case 0x00:
		return t->dfselect;
	case 0x04:
		return t->dfselect < 2 ? (uint32_t)(t->features >> (32 * t->dfselect)) : 0;
	case 0x08:
		return t->gfselect;
	case 0x0c:
		return t->gfselect < 2 ? (uint32_t)(t->driver_features >> (32 * t->gfselect)) : 0;
	case 0x10:
		return t->config_vector;
	case 0x12:
		return t->dev->num_queues;
	case 0x14:
		return t->status;
	case 0x15:
		return t->config_gen;
	case 0x16:
		return t->queue_select;
	case 0x18:
		return vq ? vq->size : 0;
	case 0x1a:
		return vq ? vq->vector : NO_VECTOR;
	case 0x1c:
		return vq ? vq->enabled : 0;
	case 0x1e:
		return vq ? t->queue_select : 0;
	case 0x20:
	case 0x24:
		return vq ? vq->desc >> (off == 0x24 ? 32 : 0) : 0;
	case 0x28:
	case 0x2c:
		return vq ? vq->driver >> (off == 0x2c ? 32 : 0) : 0;
	case 0x30:
	case 0x34:
		return vq ? vq->device >> (off == 0x34 ? 32 : 0) : 0;
	default:
		(void)size;
		return 0;
	}
}

static void set_addr_part(uint64_t *a, unsigned off, unsigned base, uint64_t v, unsigned size)
{
	if (size == 8 && off == base)
		*a = v;
	else if (off == base)
		*a = (*a & ~0xffffffffULL) | (uint32_t)v;
	else
		*a = (*a & 0xffffffffULL) | ((uint64_t)(uint32_t)v << 32);
}

/* Validates and enables the selected queue (§4.1.4.3.2). Lock held. */
static void queue_enable(struct virtio_pci *t, struct vq_state *vq)
{
	bool event_idx = (t->driver_features >> VIRTIO_F_RING_EVENT_IDX) & 1;
	bool indirect = (t->driver_features >> VIRTIO_F_INDIRECT_DESC) & 1;
	if (vq->size == 0 || vq->size > t->dev->queue_max_size || (vq->size & (vq->size - 1)) ||
	    virtq_init(&vq->q, t->env.mem, vq->size, vq->desc, vq->driver, vq->device, event_idx, indirect) <
		0) {
		needs_reset_locked(t);
		return;
	}
	vq->enabled = true;
}

/* Returns true when the caller must reset the device after unlocking. */
static bool common_write(struct virtio_pci *t, unsigned off, uint64_t v, unsigned size)
{
	struct vq_state *vq = t->queue_select < t->dev->num_queues ? &t->vqs[t->queue_select] : NULL;
	/* Queue layout is frozen once the queue is enabled (§4.1.4.3.2). */
	bool vq_mutable = vq && !vq->enabled;
	switch (off) {
	case 0x00:
		t->dfselect = (uint32_t)v;
		break;
	case 0x08:
		t->gfselect = (uint32_t)v;
		break;
	case 0x0c:
		if (t->gfselect < 2 && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * t->gfselect;
			t->driver_features =
			    (t->driver_features & ~(0xffffffffULL << sh)) | ((uint64_t)(uint32_t)v << sh);
		}
		break;
	case 0x10:
		t->config_vector = (uint16_t)v < t->nvec ? (uint16_t)v : NO_VECTOR;
		break;
	case 0x14: {
		uint8_t s = (uint8_t)v;
		if (s == 0)
			return true;
		if ((s & VIRTIO_STATUS_FEATURES_OK) && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
			/* Refuse features we did not offer, and legacy drivers. */
			if ((t->driver_features & ~t->features) ||
			    !((t->driver_features >> VIRTIO_F_VERSION_1) & 1))
				s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		}
		bool was_ok = t->status & VIRTIO_STATUS_DRIVER_OK;
		t->status = (uint8_t)(s | (t->status & VIRTIO_STATUS_NEEDS_RESET));
		if ((s & VIRTIO_STATUS_DRIVER_OK) && !was_ok) {
			if (!(t->status & VIRTIO_STATUS_FEATURES_OK))
				needs_reset_locked(t);
			else if (t->master)
				driver_ok(t); /* else when bus mastering comes on */
		}
		break;
	}
	case 0x16:
		t->queue_select = (uint16_t)v;
		break;
	case 0x18:
		if (vq_mutable)
			vq->size = (uint16_t)v;
		break;
	case 0x1a:
		if (vq) {
			vq->vector = (uint16_t)v < t->nvec ? (uint16_t)v : NO_VECTOR;
			irq_changed(t);
		}
		break;
	case 0x1c:
		if (vq_mutable && (v & 1))
			queue_enable(t, vq);
		break;
	case 0x20:
	case 0x24:
		if (vq_mutable)
			set_addr_part(&vq->desc, off, 0x20, v, size);
		break;
	case 0x28:
	case 0x2c:
		if (vq_mutable)
			set_addr_part(&vq->driver, off, 0x28, v, size);
		break;
	case 0x30:
	case 0x34:
		if (vq_mutable)
			set_addr_part(&vq->device, off, 0x30, v, size);
		break;
	default:
		break;
	}
	return false;
}

/* The structures are accessed with their natural widths; anything else
 * (odd sizes, straddling fields) is ignored rather than half-applied. */
static bool common_access_ok(unsigned off, unsigned size)
{
	if (off >= 0x38)
		return false;
	if (off == 0x14 || off == 0x15)
		return size == 1;
	if (off >= 0x20)
		return (size == 4 && !(off & 3)) || (size == 8 && !(off & 7));
	if (off < 0x10)
		return size == 4 && !(off & 3);
	return size == 2 && !(off & 1);
}

static void msix_read(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned size)
{
	memset(data, 0, size);
	if (off >= OFF_PBA) {
		uint64_t bit0 = (off - OFF_PBA) * 8;
		for (unsigned i = 0; i < size * 8; i++)
			if (bit0 + i < t->nvec && t->vec[bit0 + i].pending)
				data[i / 8] |= (uint8_t)(1u << (i % 8));
		return;
	}
	uint64_t o = off - OFF_MSIX;
	unsigned v = (unsigned)(o / 16), f = (unsigned)(o % 16);
	if (v >= t->nvec || (size != 4 && size != 8) || (f & (size - 1)))
		return;
	struct msix_vec *m = &t->vec[v];
	uint32_t words[4] = {(uint32_t)m->addr, (uint32_t)(m->addr >> 32), m->data, m->ctrl};
	memcpy(data, (uint8_t *)words + f, size);
}

static void msix_write(struct virtio_pci *t, uint64_t off, const uint8_t *data, unsigned size)
{
	if (off >= OFF_PBA)
		return; /* the PBA is read-only */
	uint64_t o = off - OFF_MSIX;
	unsigned v = (unsigned)(o / 16), f = (unsigned)(o % 16);
	if (v >= t->nvec || (size != 4 && size != 8) || (f & (size - 1)))
		return;
	struct msix_vec *m = &t->vec[v];
	uint32_t words[4] = {(uint32_t)m->addr, (uint32_t)(m->addr >> 32), m->data, m->ctrl};
	memcpy((uint8_t *)words + f, data, size);
	m->addr = words[0] | (uint64_t)words[1] << 32;
	m->data = words[2];
	m->ctrl = words[3] & 1;
	msix_update(t, v);
	irq_changed(t);
}

static void bar_read(void *opaque, unsigned bar, uint64_t off, uint8_t *data, unsigned size)
{
	struct virtio_pci *t = opaque;
	memset(data, 0, size); /* the I/O BAR's notify ports read as zero */
	if (t->dev->vram && bar == 0) {
		if (off < t->dev->vram_size && size <= t->dev->vram_size - off)
			memcpy(data, t->dev->vram + off, size);
		return;
	}
	if (t->dev->vram && bar == 2) {
		pthread_mutex_lock(&t->lock);
		t->dev->vga_read(t->dev->opaque, off, data, size);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (bar != t->mem_bar)
		return;
	pthread_mutex_lock(&t->lock);
	if (off < OFF_ISR) {
		if (common_access_ok((unsigned)off, size))
			platform_put_le(data, size, common_read(t, (unsigned)off, size));
	} else if (off == OFF_ISR && size == 1) {
		/* Reading the ISR acknowledges it (§4.1.4.5). */
		data[0] = t->isr;
		t->isr = 0;
	} else if (off >= OFF_DEVICE && off < OFF_NOTIFY) {
		uint64_t o = off - OFF_DEVICE;
		if (o < t->dev->config_size && size <= t->dev->config_size - o)
			memcpy(data, t->dev->config + o, size);
	} else if (off >= OFF_MSIX && off < OFF_PBA + 0x1000) {
		msix_read(t, off, data, size);
	}
	pthread_mutex_unlock(&t->lock);
}

static void bar_write(void *opaque, unsigned bar, uint64_t off, const uint8_t *data, unsigned size)
{
	struct virtio_pci *t = opaque;
	uint64_t one = 1;
	if (bar == t->io_bar) {
		/* A kick the ioeventfd did not catch (other width, BAR moving). */
		if (off / IO_MULT < t->dev->num_queues)
			(void)!write(t->vqs[off / IO_MULT].kick_fd, &one, sizeof(one));
		return;
	}
	if (t->dev->vram && bar == 0) {
		if (off < t->dev->vram_size && size <= t->dev->vram_size - off)
			memcpy(t->dev->vram + off, data, size);
		return;
	}
	if (t->dev->vram && bar == 2) {
		pthread_mutex_lock(&t->lock);
		t->dev->vga_write(t->dev->opaque, off, data, size);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (bar != t->mem_bar)
		return;
	bool reset = false;
	pthread_mutex_lock(&t->lock);
	if (off < OFF_ISR) {
		if (common_access_ok((unsigned)off, size))
			reset = common_write(t, (unsigned)off, platform_get_le(data, size), size);
	} else if (off >= OFF_DEVICE && off < OFF_NOTIFY) {
		uint64_t o = off - OFF_DEVICE;
		if (o < t->dev->config_size && size <= t->dev->config_size - o) {
			memcpy(t->dev->config + o, data, size);
			if (t->dev->config_write)
				t->dev->config_write(t->dev->opaque, o, size);
		}
	} else if (off >= OFF_NOTIFY && off < OFF_MSIX) {
		/* A kick the ioeventfd did not catch (other width, BAR moving). */
		uint64_t q = (off - OFF_NOTIFY) / NOTIFY_MULT;
		if (q < t->dev->num_queues)
			(void)!write(t->vqs[q].kick_fd, &one, sizeof(one));
	} else if (off >= OFF_MSIX && off < OFF_PBA + 0x1000) {
		msix_write(t, off, data, size);
	}
	pthread_mutex_unlock(&t->lock);
	if (reset) {
		/* Stop the I/O thread's use of the queues before forgetting them. */
		evloop_call(t->env.io, reset_on_io, t);
		pthread_mutex_lock(&t->lock);
		device_reset_state(t);
		pthread_mutex_unlock(&t->lock);
	}
}

/* The configuration access capability (§4.1.4.9): a guest that cannot map
 * the BARs picks bar, offset and length (1, 2 or 4, offset a multiple of
 * it) and reads or writes pci_cfg_data; the device carries that out as a
 * BAR access. Anything else in the window is ignored. */
static bool cfg_window(struct virtio_pci *t, unsigned off, unsigned size, unsigned *bar, uint64_t *boff,
		       unsigned *len)
{
	const uint8_t *c = t->pci.cfg + t->cfg_cap;
	if (!t->cfg_cap || off >= t->cfg_cap + 20u || off + size <= t->cfg_cap + 16u)
		return false;
	*bar = c[4];
	*boff = platform_get_le(c + 8, 4);
	*len = (unsigned)platform_get_le(c + 12, 4);
	return (*len == 1 || *len == 2 || *len == 4) && !(*boff % *len) && *bar < PCI_NUM_BARS &&
	       t->pci.bar_size[*bar] && *boff + *len <= t->pci.bar_size[*bar];
}

static void config_read(void *opaque, unsigned off, unsigned size)
{
	struct virtio_pci *t = opaque;
	unsigned bar, len;
	uint64_t boff;
	uint8_t data[4] = {0};
	if (!cfg_window(t, off, size, &bar, &boff, &len))
		return;
	bar_read(t, bar, boff, data, len);
	memcpy(t->pci.cfg + t->cfg_cap + 16, data, len);
}

static void config_written(void *opaque, unsigned off, unsigned size)
{
	struct virtio_pci *t = opaque;
	unsigned bar, len;
	uint64_t boff;
	uint8_t data[4];
	bool stop = false;
	if (cfg_window(t, off, size, &bar, &boff, &len)) {
		memcpy(data, t->pci.cfg + t->cfg_cap + 16, len);
		bar_write(t, bar, boff, data, len);
	}
	pthread_mutex_lock(&t->lock);
	if (off < PCI_BAR0 + 4 * PCI_NUM_BARS && off + size > PCI_COMMAND) {
		rearm_notify(t);
		remap_vram(t);
	}
	/* Bus mastering gates every DMA the device does (rings, buffers, MSI).
	 * Turned off under a running device (a kexec'ing or shutting-down
	 * driver), the device stops and drops DRIVER_OK, as QEMU does; the
	 * driver resets it to use it again. DRIVER_OK written while it is off
	 * takes effect when it comes on. */
	bool master = platform_get_le(t->pci.cfg + PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
	if (master != t->master) {
		t->master = master;
		if (master && (t->status & VIRTIO_STATUS_DRIVER_OK) && !t->live)
			driver_ok(t);
		stop = !master && t->live;
		for (unsigned v = 0; master && v < t->nvec; v++)
			msix_update(t, v);
	}
	if (off < (unsigned)t->msix_cap + 4 && off + size > (unsigned)t->msix_cap + 2) {
		/* Enable or function mask changed: deliver what waited. */
		for (unsigned v = 0; v < t->nvec; v++)
			msix_update(t, v);
		irq_changed(t);
	}
	pthread_mutex_unlock(&t->lock);
	if (stop) {
		evloop_call(t->env.io, reset_on_io, t);
		pthread_mutex_lock(&t->lock);
		t->live = false;
		t->status &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
		pthread_mutex_unlock(&t->lock);
	}
}

static const struct pci_dev_ops virtio_pci_ops = {
    .bar_read = bar_read,
    .bar_write = bar_write,
    .config_written = config_written,
    .config_read = config_read,
};

/* A virtio structure in BAR bar; mult != 0 makes it a notify capability
 * with that notify_off_multiplier. Each one goes to the list's head. The
 * access window (CAP_PCI_CFG) names no structure: its fields are the
 * guest's to set. */
static void add_vcap(struct pci_dev *d, uint8_t type, uint8_t bar, uint32_t offset, uint32_t length,
		     uint32_t mult)
{
	/* Notify and access-window capabilities carry one more dword. */
	uint8_t len = mult || type == CAP_PCI_CFG ? 20 : 16;
	uint8_t c = pci_dev_add_cap(d, PCI_CAP_ID_VNDR, len);
	d->cfg[c + 2] = len;
	d->cfg[c + 3] = type;
	d->cfg[c + 4] = bar;
	platform_put_le(d->cfg + c + 8, 4, offset);
	platform_put_le(d->cfg + c + 12, 4, length);
	if (mult)
		platform_put_le(d->cfg + c + 16, 4, mult);
}

struct virtio_pci *virtio_pci_new(struct virtio_dev *dev, const struct virtio_pci_env *env,
				  struct pci_host *host, vmk_error **err)
{
	if (dev->num_queues == 0 || dev->num_queues > VIRTIO_MAX_QUEUES || dev->config_size > 0x1000) {
		vmk_set_error(err, VMK_ERR_INTERNAL, NULL, "%s: bad queue count or config size", dev->name);
		return NULL;
	}
	struct virtio_pci *t = calloc(1, sizeof(*t));
	if (!t) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->dev = dev;
	t->env = *env;
	dev->transport = t;
	t->features = dev->features | (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX) |
		      (1ULL << VIRTIO_F_INDIRECT_DESC);
	/* One vector per queue plus one for configuration changes. */
	t->nvec = dev->num_queues + 1;
	t->vec = calloc(t->nvec, sizeof(*t->vec));
	for (unsigned v = 0; t->vec && v < t->nvec; v++)
		t->vec[v].fd = t->vec[v].gsi = -1;
	for (unsigned q = 0; q < dev->num_queues; q++) {
		t->vqs[q].t = t;
		t->vqs[q].index = q;
		t->vqs[q].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	if (!t->vec) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
		virtio_pci_free(t);
		return NULL;
	}
	for (unsigned v = 0; v < t->nvec; v++) {
		t->vec[v].ctrl = 1;
		t->vec[v].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		t->vec[v].gsi = irq_router_alloc_msi(env->irq);
		struct kvm_irqfd irqfd = {.fd = (uint32_t)t->vec[v].fd, .gsi = (uint32_t)t->vec[v].gsi};
		if (t->vec[v].fd < 0 || t->vec[v].gsi < 0 || ioctl(env->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			vmk_set_errno(err, VMK_ERR_KVM, NULL, errno, "%s: cannot set up MSI-X vector %u",
				      dev->name, v);
			virtio_pci_free(t);
			return NULL;
		}
	}
	device_reset_state(t);

	struct pci_dev *p = &t->pci;
	bool vga = dev->vram && dev->vga_read && dev->vga_write;
	t->mem_bar = vga ? 4 : 0;
	t->io_bar = vga ? 5 : 2;
	pci_dev_init(p, 0x1af4, (uint16_t)(0x1040 + dev->device_id), vga ? 0x030000 : dev->pci_class, 1,
		     0x1af4, (uint16_t)(0x1040 + dev->device_id), &virtio_pci_ops, t);
	if (vga) {
		pci_dev_set_bar(p, 0, dev->vram_size);
		pci_dev_set_bar(p, 2, VGA_BAR_SIZE);
	}
	pci_dev_set_bar(p, t->mem_bar, BAR0_SIZE);
	unsigned io_size = 4;
	while (io_size < dev->num_queues * IO_MULT)
		io_size *= 2;
	pci_dev_set_io_bar(p, t->io_bar, io_size);
	uint8_t mb = (uint8_t)t->mem_bar;
	add_vcap(p, CAP_COMMON, mb, OFF_COMMON, 0x38, 0);
	add_vcap(p, CAP_ISR, mb, OFF_ISR, 1, 0);
	add_vcap(p, CAP_DEVICE, mb, OFF_DEVICE, 0x1000, 0);
	add_vcap(p, CAP_NOTIFY, mb, OFF_NOTIFY, dev->num_queues * NOTIFY_MULT, NOTIFY_MULT);
	add_vcap(p, CAP_PCI_CFG, 0, 0, 0, 0);
	t->cfg_cap = p->cfg[PCI_CAPABILITY_LIST];
	memset(p->wmask + t->cfg_cap + 4, 0xff, 1);
	memset(p->wmask + t->cfg_cap + 8, 0xff, 12);
	/* Added last, listed first: the notify capability drivers try first. */
	add_vcap(p, CAP_NOTIFY, (uint8_t)t->io_bar, 0, dev->num_queues * IO_MULT, IO_MULT);
	t->msix_cap = pci_dev_add_cap(p, PCI_CAP_ID_MSIX, 12);
	platform_put_le(p->cfg + t->msix_cap + 2, 2, t->nvec - 1);
	platform_put_le(p->cfg + t->msix_cap + 4, 4, OFF_MSIX | t->mem_bar); /* BIR */
	platform_put_le(p->cfg + t->msix_cap + 8, 4, OFF_PBA | t->mem_bar);
	p->wmask[t->msix_cap + 3] = 0xc0; /* enable, function mask */
	if (pci_host_add(host, p) < 0) {
		vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, NULL, "%s: no room on the PCI bus", dev->name);
		virtio_pci_free(t);
		return NULL;
	}
	pthread_mutex_lock(&t->lock);
	rearm_notify(t);
	remap_vram(t);
	pthread_mutex_unlock(&t->lock);
	return t;
}

void virtio_pci_free(struct virtio_pci *t)
{
	if (!t)
		return;
	if (t->vram_at) {
		struct kvm_userspace_memory_region r = {.slot = VRAM_MEMSLOT(t->pci.slot),
							.guest_phys_addr = t->vram_at,
							.userspace_addr = (uintptr_t)t->dev->vram};
		ioctl(t->env.vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
	}
	for (unsigned q = 0; q < t->dev->num_queues; q++) {
		if (t->notify_base)
			ioeventfd(t, q, t->notify_base, false, false);
		if (t->io_notify_base)
			ioeventfd(t, q, t->io_notify_base, true, false);
		if (t->vqs[q].kick_fd >= 0)
			close(t->vqs[q].kick_fd);
	}
	for (unsigned v = 0; t->vec && v < t->nvec; v++) {
		if (t->vec[v].fd >= 0 && t->vec[v].gsi >= 0) {
			struct kvm_irqfd irqfd = {.fd = (uint32_t)t->vec[v].fd,
						  .gsi = (uint32_t)t->vec[v].gsi,
						  .flags = KVM_IRQFD_FLAG_DEASSIGN};
			ioctl(t->env.vm_fd, KVM_IRQFD, &irqfd);
		}
		if (t->vec[v].fd >= 0)
			close(t->vec[v].fd);
	}
	free(t->vec);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
