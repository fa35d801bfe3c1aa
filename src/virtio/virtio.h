/* What a virtio device implements and what the PCI transport gives it
 * (virtio 1.2, modern PCI transport only). A device file (blk.c, rng.c ...)
 * fills a struct virtio_dev and never sees PCI. */
#ifndef VMK_VIRTIO_H
#define VMK_VIRTIO_H

#include "core/eventloop.h"
#include "virtio/queue.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_F_INDIRECT_DESC	 28
#define VIRTIO_F_RING_EVENT_IDX	 29
#define VIRTIO_F_VERSION_1	 32
#define VIRTIO_F_ACCESS_PLATFORM 33

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

#define VIRTIO_MAX_QUEUES 64

struct virtio_pci;

struct virtio_dev {
	const char *name;
	uint16_t device_id;
	uint32_t pci_class; /* class << 16 | subclass << 8 | prog-if */
	uint64_t features;  /* offered; VERSION_1, EVENT_IDX, INDIRECT are added by the transport */
	unsigned num_queues;
	uint16_t queue_max_size; /* power of two */
	uint8_t *config;	 /* device-specific config space, owned by the device */
	size_t config_size;
	void *opaque;
	/* Optional VGA compatibility (what virtio-vga is to QEMU): the PCI
	 * class is VGA, BAR 0 is vram (mapped into the guest wherever it puts
	 * the BAR, a KVM memory slot), BAR 2 a 4 KiB register block served by
	 * vga_read/vga_write (vCPU thread, transport lock held), and the
	 * virtio structures move to BAR 4 (memory) and BAR 5 (ports). */
	uint8_t *vram;
	uint64_t vram_size; /* a power of two */
	void (*vga_read)(void *opaque, uint64_t off, uint8_t *data, unsigned size);
	void (*vga_write)(void *opaque, uint64_t off, const uint8_t *data, unsigned size);

	/* All optional. Called with the transport's lock held, on a vCPU thread,
	 * except queue_notify which runs on the machine's I/O thread. */
	/* The driver wrote config bytes (already stored in config). */
	void (*config_write)(void *opaque, size_t off, unsigned size);
	/* DRIVER_OK: queues are set up. Return <0 to refuse (NEEDS_RESET). */
	int (*activate)(void *opaque);
	/* The driver kicked queue q (I/O thread). */
	void (*queue_notify)(void *opaque, unsigned q);
	/* The driver reset the device: forget in-flight work, queues are gone.
	 * Runs after the I/O thread has stopped calling queue_notify. */
	void (*reset)(void *opaque);
	/* A queue's MSI-X vector, its mask or MSI-X enable changed, so what
	 * virtio_queue_irqfd() answers may have (transport lock held). */
	void (*irq_changed)(void *opaque);

	struct virtio_pci *transport; /* set by the transport */
};

/* For devices. */
struct virtq *virtio_queue(struct virtio_dev *d, unsigned q); /* NULL if not enabled */
bool virtio_has_feature(struct virtio_dev *d, unsigned bit);  /* negotiated */
/* After pushing used elements: interrupts the driver if it wants one. */
void virtio_notify_queue(struct virtio_dev *d, unsigned q);
/* Config space changed (capacity, link...): new generation + config interrupt. */
void virtio_config_changed(struct virtio_dev *d);
/* The guest broke the protocol: DEVICE_NEEDS_RESET and a config interrupt. */
void virtio_set_needs_reset(struct virtio_dev *d, const char *why);
/* The machine's I/O thread, for devices that watch their own host fds. */
struct evloop *virtio_io_loop(struct virtio_dev *d);
const struct gmem *virtio_mem(struct virtio_dev *d);

/* Runs fn(ctx) under the transport lock, as activate and irq_changed run:
 * for a device that changes what those read from another thread. */
void virtio_run_locked(struct virtio_dev *d, void (*fn)(void *ctx), void *ctx);

/* A VGA-compatible device's vram: 1 and the byte range [*first, *end) of
 * the pages the guest wrote since the last call, 0 when none, -1 when vram
 * is not mapped now (every access traps: assume all changed). */
int virtio_vram_dirty(struct virtio_dev *d, uint64_t *first, uint64_t *end);

/* For devices whose queues are served outside the I/O thread (vhost). */
/* The KVM ioeventfd of queue q's notifications. */
int virtio_queue_kick_fd(struct virtio_dev *d, unsigned q);
/* external: the transport stops watching q's kick fd (someone else reads
 * it); false: watches it again if the queue is live. I/O thread only.
 * A driver reset makes every queue internal again. */
void virtio_queue_set_external(struct virtio_dev *d, unsigned q, bool external);
/* The irqfd that raises q's vector when written, if that may be done
 * directly now (a vector, MSI-X on, neither function nor vector masked);
 * else -1 and interrupts must go through virtio_raise_queue(). Transport
 * lock held: from irq_changed or activate. */
int virtio_queue_irqfd(struct virtio_dev *d, unsigned q);
/* Raises q's vector unconditionally (no event-index check: the caller
 * decided), or marks it pending in the PBA while masked. */
void virtio_raise_queue(struct virtio_dev *d, unsigned q);

#endif
