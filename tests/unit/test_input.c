/* Unit tests of virtio-input through the stand-in transport: what each kind
 * of device shows in its configuration space, reports delivered whole and in
 * order as the driver posts buffers, the bounded ring, LED changes on the
 * status queue, a reset, and a driver that breaks the protocol. */
#include "../unit/check.h"
#include "../unit/transport_stub.h"
#include "virtio/devices.h"
#include <endian.h>
#include <linux/input.h>
#include <stdlib.h>
#include <vmkit/vmkit.h>

#define EVQ  0
#define STQ  1
#define EBUF (DATA + 0x10000ull) /* event buffer i at EBUF + 8 i */

static struct virtio_input *in;
static struct virtio_dev *dev;

struct ev8 {
	uint16_t type, code;
	uint32_t value;
};

static void on_loop_notify(void *ctx)
{
	unsigned q = (unsigned)(uintptr_t)ctx;
	dev->queue_notify(dev->opaque, q);
}

/* Kicks and posted flushes run on the I/O thread, as in the machine. */
static void kick(unsigned q)
{
	evloop_call(loop, on_loop_notify, (void *)(uintptr_t)q);
}

static void sync_loop(void)
{
	kick(STQ); /* any call: everything posted before it has run */
}

static void select_cfg(uint8_t sel, uint8_t sub)
{
	dev->config[0] = sel;
	dev->config[1] = sub;
	dev->config_write(dev->opaque, 0, 2);
}

static void post_events(unsigned n, unsigned *next)
{
	for (unsigned i = 0; i < n; i++) {
		struct buf b = {EBUF + 8ull * ((*next)++ % QSIZE), 8, true};
		drv_add(EVQ, &b, 1);
	}
}

/* The next event the device wrote, or type 0xffff when none came. */
static struct ev8 next_event(void)
{
	uint32_t id, len;
	bool got = false;
	struct ev8 e;

	for (int i = 0; i < 100 && !(got = drv_used(EVQ, &id, &len)); i++)
		usleep(5000);
	if (!got)
		return (struct ev8){0xffff, 0, 0};
	uint64_t gpa;
	memcpy(&gpa, g(ring(EVQ, 0) + 16ull * (id % QSIZE), 8), 8);
	memcpy(&e, g(gpa, 8), 8);
	e.type = le16toh(e.type);
	e.code = le16toh(e.code);
	e.value = le32toh(e.value);
	return len == 8 ? e : (struct ev8){0xfffe, 0, 0};
}

static struct virtio_input *make(vmk_input_kind kind, uint32_t w, uint32_t h)
{
	vmk_input_device *c = vmk_input_device_new(kind, NULL);
	if (w)
		vmk_input_device_set_screen_size(c, w, h, NULL);
	vmk_config *cfg = vmk_config_new();
	vmk_config_add_input_device(cfg, c, NULL);
	vmk_input_device_free(c);
	struct virtio_input *d = virtio_input_new(&((struct vmk_config *)cfg)->input[0], NULL);
	vmk_config_free(cfg);
	return d;
}

static void test_config(void)
{
	vmk_error *err = NULL;
	CHECK(vmk_input_device_new(7, &err) == NULL && vmk_error_get_code(err) == VMK_ERR_INVALID_ARGUMENT,
	      "an unknown kind is refused");
	vmk_error_free(err);
	err = NULL;
	vmk_input_device *c = vmk_input_device_new(VMK_INPUT_SCREEN_POINTER, NULL);
	CHECK(!vmk_input_device_set_screen_size(c, 63, 600, &err) &&
		  !strncmp(vmk_error_get_field(err), "width", 5),
	      "a 63-pixel-wide screen is refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	vmk_input_device_free(c);

	in = make(VMK_INPUT_SCREEN_POINTER, 1024, 768);
	dev = virtio_input_dev(in);
	CHECK(dev->device_id == 18 && dev->num_queues == 2 && dev->config_size == 136,
	      "virtio id 18, 2 queues");
	select_cfg(1, 0);
	CHECK(dev->config[2] == 20 && !memcmp(dev->config + 8, "vmkit screen pointer", 20), "ID_NAME");
	select_cfg(0x11, EV_ABS);
	CHECK(dev->config[2] == 1 && dev->config[8] == 3, "EV_BITS(EV_ABS): ABS_X and ABS_Y");
	select_cfg(0x12, ABS_X);
	uint32_t max;
	memcpy(&max, dev->config + 12, 4);
	CHECK(dev->config[2] == 20 && le32toh(max) == 1023, "ABS_INFO(ABS_X): 0 to 1023");
	select_cfg(0x12, ABS_PRESSURE);
	CHECK(dev->config[2] == 0, "ABS_INFO of an axis it does not have: size 0");
	select_cfg(0x11, EV_KEY);
	CHECK(dev->config[2] == (BTN_EXTRA / 8) + 1 && dev->config[BTN_LEFT / 8 + 8] == 0x1f,
	      "buttons left to extra");
	select_cfg(0x10, 0);
	CHECK(dev->config[2] == 1 && dev->config[8] == (1 << INPUT_PROP_DIRECT), "INPUT_PROP_DIRECT");
	select_cfg(0x55, 0);
	CHECK(dev->config[2] == 0, "an unknown selector: size 0");
	virtio_input_free(in);
}

static void test_events(void)
{
	unsigned next = 0;
	vmk_error *err = NULL;

	queues_reset();
	in = make(VMK_INPUT_KEYBOARD, 0, 0);
	dev = virtio_input_dev(in);
	select_cfg(0x11, 0);
	CHECK(dev->config[8] == 0x03 && dev->config[10] == 0x12, "keyboard EV_BITS: SYN KEY LED REP");
	struct input_report r = {.n = 1, .ev = {{EV_KEY, KEY_A, 1}}};
	CHECK(virtio_input_send(in, &r, NULL), "a key press is queued before the driver posts buffers");
	sync_loop();
	struct ev8 e = next_event();
	CHECK(e.type == 0xffff, "nothing delivered without buffers");
	post_events(1, &next);
	kick(EVQ);
	e = next_event();
	CHECK(e.type == 0xffff, "one buffer is not enough for a report of two events: nothing yet");
	post_events(1, &next);
	kick(EVQ);
	e = next_event();
	struct ev8 s = next_event();
	CHECK(e.type == EV_KEY && e.code == KEY_A && e.value == 1 && s.type == EV_SYN && s.code == SYN_REPORT,
	      "with two buffers: KEY_A down, SYN_REPORT");

	/* The ring holds 2048 events: 1024 two-event reports, then it refuses. */
	unsigned ok = 0;
	while (ok < 5000 && virtio_input_send(in, &r, ok > 1000 ? &err : NULL))
		ok++;
	CHECK(ok == 1024 && vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED, "%u reports queued, then: %s",
	      ok, err ? vmk_error_get_message(err) : "");
	vmk_error_free(err);
	err = NULL;
	r.n = INPUT_REPORT_MAX + 1;
	CHECK(!virtio_input_send(in, &r, &err), "a report of 9 events is refused");
	vmk_error_free(err);
	err = NULL;

	/* LEDs from the status queue. */
	struct ev8 led = {htole16(EV_LED), htole16(LED_CAPSL), htole32(1)};
	memcpy(g(DATA, 8), &led, 8);
	struct buf b = {DATA, 8, false};
	drv_add(STQ, &b, 1);
	kick(STQ);
	uint32_t id, len;
	CHECK(drv_wait_used(STQ, &id, &len) && virtio_input_leds(in) == 2,
	      "CapsLock on from the status queue");

	/* A reset forgets what the old driver did not take. */
	dev->reset(dev->opaque);
	queues_reset();
	next = 0;
	post_events(2, &next);
	kick(EVQ);
	e = next_event();
	CHECK(e.type == 0xffff && virtio_input_leds(in) == 0, "after a reset: no stale events, LEDs off");
	r.n = 1;
	CHECK(virtio_input_send(in, &r, NULL), "sends again after the reset");
	sync_loop();
	e = next_event();
	CHECK(e.type == EV_KEY, "delivered to the new driver's buffers");

	/* A driver that posts a 4-byte event buffer is broken. */
	int before = needs_reset;
	struct buf small = {EBUF, 4, true};
	drv_add(EVQ, &small, 1);
	drv_add(EVQ, &small, 1);
	virtio_input_send(in, &r, NULL);
	sync_loop();
	CHECK(needs_reset > before, "an event buffer smaller than an event: NEEDS_RESET");
	virtio_input_free(in);
}

int main(void)
{
	if (gmem_init(&mem, MEM_SIZE) != 0)
		return 1;
	loop = evloop_new();
	test_config();
	test_events();
	evloop_free(loop);
	gmem_destroy(&mem);
	return check_done();
}
