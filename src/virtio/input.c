/* virtio-input (virtio 1.2 §5.8): a keyboard, a screen-coordinate pointer
 * (absolute x/y in pixels) or a relative mouse, as evdev describes them.
 *
 * The host queues reports (a few events and SYN_REPORT) in a bounded ring;
 * the I/O thread moves them into the event queue's buffers, one event per
 * buffer, whole reports only, when the guest has posted enough buffers. The
 * status queue brings the guest's LED changes back; they are consumed and
 * counted, never trusted for anything else. */
#include "util/error_priv.h"
#include "virtio/devices.h"
#include <endian.h>
#include <errno.h>
#include <linux/input.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_ID_INPUT 18
#define INPUT_EVENTQ	0
#define INPUT_STATUSQ	1

/* Config selectors (virtio 1.2 §5.8.5). */
#define CFG_UNSET     0x00
#define CFG_ID_NAME   0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS   0x11
#define CFG_ABS_INFO  0x12

/* Reports the guest has not taken: 256 of at most 8 events each. */
#define INPUT_RING 2048

struct virtio_input_config {
	uint8_t select;
	uint8_t subsel;
	uint8_t size;
	uint8_t reserved[5];
	union {
		char string[128];
		uint8_t bitmap[128];
		struct {
			uint32_t min, max, fuzz, flat, res;
		} abs;
		struct {
			uint16_t bustype, vendor, product, version;
		} ids;
	} u;
} __attribute__((packed));

struct virtio_input {
	struct virtio_dev dev;
	struct virtio_input_config config;
	vmk_input_kind kind;
	uint32_t width, height;

	pthread_mutex_t lock; /* the ring: injected on the VM thread, taken on the I/O thread */
	struct input_event_le {
		uint16_t type, code;
		uint32_t value;
	} ring[INPUT_RING];
	unsigned head, count;
	bool flush_posted;
	uint8_t leds; /* what the guest last set: bit 0 NumLock, 1 CapsLock, 2 ScrollLock */
	bool ready;   /* the driver set DRIVER_OK and has not reset since (lock) */

	struct virtq_elem elem; /* I/O thread only */
};

static void set_bit(uint8_t *map, unsigned bit)
{
	map[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* Bits of event type `ev` this device reports; the size is the last byte used. */
static uint8_t ev_bits(const struct virtio_input *in, unsigned ev, uint8_t *map)
{
	memset(map, 0, 128);
	switch (ev) {
	case 0: /* the event types themselves */
		set_bit(map, EV_SYN);
		set_bit(map, EV_KEY);
		if (in->kind == VMK_INPUT_KEYBOARD) {
			set_bit(map, EV_LED);
			set_bit(map, EV_REP);
		} else {
			set_bit(map, EV_REL);
			if (in->kind == VMK_INPUT_SCREEN_POINTER)
				set_bit(map, EV_ABS);
		}
		break;
	case EV_KEY:
		if (in->kind == VMK_INPUT_KEYBOARD) {
			for (unsigned k = KEY_ESC; k <= KEY_MICMUTE; k++)
				set_bit(map, k);
		} else {
			for (unsigned b = BTN_LEFT; b <= BTN_EXTRA; b++)
				set_bit(map, b);
		}
		break;
	case EV_REL:
		if (in->kind == VMK_INPUT_KEYBOARD)
			return 0;
		if (in->kind == VMK_INPUT_MOUSE) {
			set_bit(map, REL_X);
			set_bit(map, REL_Y);
		}
		set_bit(map, REL_WHEEL);
		break;
	case EV_ABS:
		if (in->kind != VMK_INPUT_SCREEN_POINTER)
			return 0;
		set_bit(map, ABS_X);
		set_bit(map, ABS_Y);
		break;
	case EV_REP:
		/* Linux asks each type; a non-empty answer turns on its own
		 * autorepeat for the keyboard (no bits: the rates are its own). */
		if (in->kind != VMK_INPUT_KEYBOARD)
			return 0;
		return 1;
	case EV_LED:
		if (in->kind != VMK_INPUT_KEYBOARD)
			return 0;
		set_bit(map, LED_NUML);
		set_bit(map, LED_CAPSL);
		set_bit(map, LED_SCROLLL);
		break;
	default:
		return 0;
	}
	uint8_t size = 0;
	for (unsigned i = 0; i < 128; i++)
		if (map[i])
			size = (uint8_t)(i + 1);
	return size;
}

/* The driver selected what to read (transport lock held, vCPU thread). */
static void input_config_write(void *opaque, size_t off, unsigned size)
{
	struct virtio_input *in = opaque;
	struct virtio_input_config *c = &in->config;
	static const char *const names[] = {"", "vmkit keyboard", "vmkit screen pointer", "vmkit mouse"};

	(void)size;
	if (off > 1)
		return; /* only select and subsel are the driver's to write */
	c->size = 0;
	memset(&c->u, 0, sizeof(c->u));
	switch (c->select) {
	case CFG_ID_NAME:
		c->size = (uint8_t)strlen(names[in->kind]);
		memcpy(c->u.string, names[in->kind], c->size);
		break;
	case CFG_ID_DEVIDS:
		c->u.ids.bustype = htole16(BUS_VIRTUAL);
		c->u.ids.vendor = htole16(0x0627);
		c->u.ids.product = htole16((uint16_t)in->kind);
		c->u.ids.version = htole16(1);
		c->size = sizeof(c->u.ids);
		break;
	case CFG_PROP_BITS:
		if (in->kind == VMK_INPUT_SCREEN_POINTER) {
			set_bit(c->u.bitmap, INPUT_PROP_DIRECT);
			c->size = 1;
		}
		break;
	case CFG_EV_BITS:
		c->size = ev_bits(in, c->subsel, c->u.bitmap);
		break;
	case CFG_ABS_INFO:
		if (in->kind == VMK_INPUT_SCREEN_POINTER && (c->subsel == ABS_X || c->subsel == ABS_Y)) {
			c->u.abs.min = 0;
			c->u.abs.max = htole32((c->subsel == ABS_X ? in->width : in->height) - 1);
			c->size = sizeof(c->u.abs);
		}
		break;
	default: /* UNSET, ID_SERIAL (none) and anything unknown: size 0 */
		break;
	}
}

/* I/O thread: whole reports into the guest's buffers, as many as fit. */
static void flush(struct virtio_input *in)
{
	struct virtq *vq = virtio_queue(&in->dev, INPUT_EVENTQ);
	bool pushed = false;

	pthread_mutex_lock(&in->lock);
	in->flush_posted = false;
	while (vq && in->count) {
		/* The report's length: up to and including its SYN_REPORT. */
		unsigned n = 0;
		while (n < in->count && in->ring[(in->head + n) % INPUT_RING].type != EV_SYN)
			n++;
		n++;
		/* Whole reports only: take the report's buffers first, and give
		 * them back when there are too few (the next kick retries). */
		unsigned got = 0;
		int ret = 0;
		uint16_t heads[INPUT_REPORT_MAX + 1];
		uint32_t lens[INPUT_REPORT_MAX + 1];
		while (got < n && (ret = virtq_pop(vq, &in->elem)) == 1) {
			struct input_event_le *e = &in->ring[(in->head + got) % INPUT_RING];
			heads[got] = in->elem.head;
			lens[got] = (uint32_t)iov_copy_to(in->elem.iov + in->elem.nout, in->elem.nin, 0, e,
							  sizeof(*e));
			got++;
			if (lens[got - 1] != sizeof(*e))
				ret = -EINVAL; /* a buffer too small for an event: the driver is broken */
			if (ret < 0)
				break;
		}
		if (ret < 0) {
			pthread_mutex_unlock(&in->lock);
			virtio_set_needs_reset(&in->dev, "virtio-input: malformed event queue or buffer");
			return;
		}
		if (got < n) {
			virtq_unpop(vq, got);
			break;
		}
		virtq_push_batch(vq, heads, lens, got);
		pushed = true;
		in->head = (in->head + got) % INPUT_RING;
		in->count -= got;
	}
	pthread_mutex_unlock(&in->lock);
	if (pushed)
		virtio_notify_queue(&in->dev, INPUT_EVENTQ);
}

static void flush_cb(void *ctx)
{
	flush(ctx);
}

static void input_queue_notify(void *opaque, unsigned q)
{
	struct virtio_input *in = opaque;

	if (q == INPUT_EVENTQ) {
		flush(in);
		return;
	}
	struct virtq *vq = virtio_queue(&in->dev, INPUT_STATUSQ);
	bool pushed = false;
	int ret = 0;
	/* LED changes: bounded by the queue size per kick. */
	for (unsigned i = 0; vq && i < in->dev.queue_max_size && (ret = virtq_pop(vq, &in->elem)) == 1; i++) {
		struct input_event_le e;
		if (iov_copy_from(in->elem.iov, in->elem.nout, 0, &e, sizeof(e)) == sizeof(e) &&
		    le16toh(e.type) == EV_LED && le16toh(e.code) <= LED_SCROLLL) {
			uint8_t bit = (uint8_t)(1u << le16toh(e.code));
			pthread_mutex_lock(&in->lock);
			in->leds = e.value ? (in->leds | bit) : (in->leds & (uint8_t)~bit);
			pthread_mutex_unlock(&in->lock);
		}
		virtq_push(vq, in->elem.head, 0);
		pushed = true;
	}
	if (ret < 0)
		virtio_set_needs_reset(&in->dev, "virtio-input: malformed status queue");
	if (pushed)
		virtio_notify_queue(&in->dev, INPUT_STATUSQ);
}

static int input_activate(void *opaque)
{
	struct virtio_input *in = opaque;

	pthread_mutex_lock(&in->lock);
	in->ready = true;
	pthread_mutex_unlock(&in->lock);
	return 0;
}

bool virtio_input_ready(struct virtio_input *in)
{
	pthread_mutex_lock(&in->lock);
	bool r = in->ready;
	pthread_mutex_unlock(&in->lock);
	return r;
}

static void input_reset(void *opaque)
{
	struct virtio_input *in = opaque;

	/* Events for a driver that went away are not for the next one. */
	pthread_mutex_lock(&in->lock);
	in->head = in->count = 0;
	in->leds = 0;
	in->ready = false;
	pthread_mutex_unlock(&in->lock);
}

bool virtio_input_send(struct virtio_input *in, const struct input_report *r, vmk_error **err)
{
	if (r->n == 0 || r->n > INPUT_REPORT_MAX)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "input", "input: a report of %u events",
				     r->n);
	pthread_mutex_lock(&in->lock);
	if (in->count + r->n + 1 > INPUT_RING) {
		pthread_mutex_unlock(&in->lock);
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "input",
				     "input: the guest has not taken the last %u events", in->count);
	}
	for (unsigned i = 0; i <= r->n; i++) {
		struct input_event_le *e = &in->ring[(in->head + in->count++) % INPUT_RING];
		if (i < r->n)
			*e = (struct input_event_le){htole16(r->ev[i].type), htole16(r->ev[i].code),
						     htole32((uint32_t)r->ev[i].value)};
		else
			*e = (struct input_event_le){htole16(EV_SYN), htole16(SYN_REPORT), 0};
	}
	bool post = !in->flush_posted;
	in->flush_posted = true;
	pthread_mutex_unlock(&in->lock);
	struct evloop *loop = virtio_io_loop(&in->dev);
	if (post && loop && evloop_post(loop, flush_cb, in) != 0) {
		pthread_mutex_lock(&in->lock);
		in->flush_posted = false;
		pthread_mutex_unlock(&in->lock);
	}
	return true;
}

vmk_input_kind virtio_input_kind(const struct virtio_input *in)
{
	return in->kind;
}

void virtio_input_screen(const struct virtio_input *in, uint32_t *w, uint32_t *h)
{
	*w = in->width;
	*h = in->height;
}

uint8_t virtio_input_leds(struct virtio_input *in)
{
	pthread_mutex_lock(&in->lock);
	uint8_t l = in->leds;
	pthread_mutex_unlock(&in->lock);
	return l;
}

struct virtio_input *virtio_input_new(const struct vmk_input_device *cfg, vmk_error **err)
{
	struct virtio_input *in = calloc(1, sizeof(*in));

	if (!in) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "input_devices", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&in->lock, NULL);
	in->kind = cfg->kind;
	in->width = cfg->width;
	in->height = cfg->height;
	in->dev = (struct virtio_dev){
	    .name = "virtio-input",
	    .device_id = VIRTIO_ID_INPUT,
	    .pci_class = 0x098000, /* input device, other */
	    .num_queues = 2,
	    .queue_max_size = 64,
	    .config = (uint8_t *)&in->config,
	    .config_size = sizeof(in->config),
	    .opaque = in,
	    .config_write = input_config_write,
	    .activate = input_activate,
	    .queue_notify = input_queue_notify,
	    .reset = input_reset,
	};
	return in;
}

struct virtio_dev *virtio_input_dev(struct virtio_input *in)
{
	return &in->dev;
}

void virtio_input_free(struct virtio_input *in)
{
	if (!in)
		return;
	pthread_mutex_destroy(&in->lock);
	free(in);
}
