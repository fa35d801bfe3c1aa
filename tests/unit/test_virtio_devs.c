/* Unit tests of virtio-rng, virtio-balloon, virtio-console and virtio-net's
 * transmit backpressure: hand-made requests given straight to their
 * handlers, and real split queues in a guest-memory mapping driven through
 * a stand-in for the PCI transport. */
#include "../unit/check.h"
#include "virtio/balloon.h"
#include "virtio/console.h"
#include "virtio/devices.h"
#include "virtio/rng.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#include "../unit/transport_stub.h"

static struct virtq_elem e;

static void test_rng(void)
{
	uint8_t *ro = g(DATA, 16), *w1 = g(DATA + 0x1000, 101), *w2 = g(DATA + 0x2000, 51);
	uint8_t *big = g(DATA + 0x10000, 100 * 1024 + 16);
	uint32_t id, len;

	memset(ro, 0xaa, 16);
	memset(w1, 0, 101);
	memset(w2, 0, 51);
	memset(&e, 0, sizeof(e));
	elem_add(&e, ro, 16, false);
	elem_add(&e, w1, 100, true);
	elem_add(&e, w2, 50, true);
	CHECK(rng_fill(&e) == 150, "rng fills exactly the 150 writable bytes");
	bool ro_kept = true, w_random = false;
	for (int i = 0; i < 16; i++)
		ro_kept &= ro[i] == 0xaa;
	for (int i = 0; i < 100; i++)
		w_random |= w1[i] != 0;
	CHECK(ro_kept, "the readable buffer is left alone");
	CHECK(w_random && w1[100] == 0 && w2[50] == 0, "random bytes, nothing past either buffer");

	memset(big, 0x5a, 100 * 1024 + 16);
	memset(&e, 0, sizeof(e));
	elem_add(&e, big, 100 * 1024, true);
	bool tail_kept = true;
	CHECK(rng_fill(&e) == RNG_MAX_REQUEST, "a 100 KiB request gets 64 KiB");
	for (int i = RNG_MAX_REQUEST; i < 100 * 1024 + 16; i++)
		tail_kept &= big[i] == 0x5a;
	CHECK(tail_kept, "nothing written beyond the cap");

	memset(&e, 0, sizeof(e));
	elem_add(&e, ro, 16, false);
	CHECK(rng_fill(&e) == 0, "a request with no writable buffer gets nothing");

	struct virtio_rng *r = virtio_rng_new(NULL);
	struct virtio_dev *d = virtio_rng_dev(r);
	CHECK(r && d->device_id == VIRTIO_ID_RNG && d->num_queues == 1, "virtio-rng device");
	queues_reset();
	uint16_t head = drv_add(0, &(struct buf){DATA + 0x1000, 32, true}, 1);
	d->queue_notify(d->opaque, 0);
	CHECK(drv_used(0, &id, &len) && id == head && len == 32 && notified[0] == 1,
	      "through the queue: 32 bytes used, driver notified");

	/* A driver claiming more entries than the ring holds. */
	uint16_t bogus = 1000;
	memcpy(g(ring(0, 1) + 2, 2), &bogus, 2);
	needs_reset = 0;
	d->queue_notify(d->opaque, 0);
	CHECK(needs_reset == 1, "a malformed avail index marks the device broken");
	d->queue_notify(d->opaque, 5);
	CHECK(needs_reset == 1, "a kick for a queue it does not have is ignored");
	virtio_rng_free(r);
}

static bool resident(void *p)
{
	unsigned char v = 0;

	mincore(p, 4096, &v);
	return v & 1;
}

static long rss_pages(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res;
}

static void test_balloon_inflate(void)
{
	const uint64_t region = DATA + 0x800000; /* 4 MiB of touched guest RAM */
	uint8_t *host = g(region, 4 * MiB);
	uint32_t *pfns = g(DATA, 4096);
	unsigned rejected;

	memset(host, 0x77, 4 * MiB);
	long before = rss_pages();

	/* 1024 good PFNs (the whole region) among bad ones; a trailing half PFN. */
	unsigned n = 0;
	pfns[n++] = 0xffffffff;
	for (unsigned i = 0; i < 1024; i++)
		pfns[n++] = (uint32_t)((region >> 12) + i);
	pfns[n++] = (uint32_t)(MEM_SIZE >> 12); /* first page past RAM */
	memset(&e, 0, sizeof(e));
	elem_add(&e, pfns, 4 * n + 2, false);
	unsigned got = balloon_inflate_pfns(&mem, &e, &rejected);
	CHECK(got == 1024 && rejected == 2, "1024 pages released, 2 out-of-RAM PFNs rejected (%u, %u)", got,
	      rejected);
	long after = rss_pages();
	CHECK(after >= 0 && before - after >= 900, "host RSS fell by the region (%ld -> %ld pages)", before,
	      after);
	CHECK(!resident(host) && host[0] == 0, "a released page is gone and reads back as zero");

	/* Only bad PFNs: the page just below RAM's end is fine, nothing else. */
	uint8_t *last = g(MEM_SIZE - 4096, 4096);
	memset(last, 0x33, 4096);
	pfns[0] = (uint32_t)(MEM_SIZE >> 12);
	pfns[1] = 0x80000000u;
	pfns[2] = (uint32_t)((MEM_SIZE >> 12) - 1);
	memset(&e, 0, sizeof(e));
	elem_add(&e, pfns, 8, false);
	got = balloon_inflate_pfns(&mem, &e, &rejected);
	CHECK(got == 0 && rejected == 2 && last[0] == 0x33, "bad PFNs are not released (no madvise)");
	memset(&e, 0, sizeof(e));
	elem_add(&e, pfns, 12, false);
	got = balloon_inflate_pfns(&mem, &e, &rejected);
	CHECK(got == 1 && last[0] == 0, "the last page of RAM is accepted");

	/* PFNs given in writable buffers are not the driver's to give. */
	memset(host, 0x77, 4096);
	pfns[0] = (uint32_t)(region >> 12);
	memset(&e, 0, sizeof(e));
	elem_add(&e, pfns, 4, true);
	got = balloon_inflate_pfns(&mem, &e, &rejected);
	CHECK(got == 0 && host[0] == 0x77, "PFNs in a device-writable buffer are ignored");
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

static void test_balloon_stats_parse(void)
{
	uint8_t *a = g(DATA, 64), *b = g(DATA + 0x1000, 4096);
	vmk_balloon_stats st;

	/* Four entries, the third split across two buffers, then 7 stray bytes. */
	uint8_t raw[47];
	put_stat(raw, VIRTIO_BALLOON_S_SWAP_IN, 11);
	put_stat(raw + 10, VIRTIO_BALLOON_S_MEMFREE, 1000);
	put_stat(raw + 20, 99, 5);
	put_stat(raw + 30, VIRTIO_BALLOON_S_AVAIL, 2000);
	memset(raw + 40, 0xff, 7);
	memcpy(a, raw, 25);
	memcpy(b, raw + 25, 22);
	memset(&e, 0, sizeof(e));
	elem_add(&e, a, 25, false);
	elem_add(&e, b, 22, false);
	unsigned n = balloon_parse_stats(&e, &st);
	CHECK(n == 4, "four whole entries read, the partial one dropped (%u)", n);
	CHECK(st.swap_in == 11 && st.free_memory == 1000 && st.available_memory == 2000,
	      "known tags land in their fields");
	CHECK(st.swap_out == UINT64_MAX && st.major_faults == UINT64_MAX && st.disk_caches == UINT64_MAX &&
		  st.total_memory == UINT64_MAX,
	      "unreported fields are UINT64_MAX, unknown tag 99 ignored");

	for (unsigned i = 0; i < 300; i++)
		put_stat(b + 10 * i % 4000, VIRTIO_BALLOON_S_MEMTOT, i);
	memset(&e, 0, sizeof(e));
	elem_add(&e, b, 3000, false);
	CHECK(balloon_parse_stats(&e, &st) == BALLOON_MAX_STATS, "a huge buffer is read only up to the cap");

	memset(&e, 0, sizeof(e));
	elem_add(&e, b, 9, false);
	elem_add(&e, a, 64, true);
	CHECK(balloon_parse_stats(&e, &st) == 0 && st.total_memory == UINT64_MAX,
	      "a short buffer gives no statistics; writable buffers are not read");
}

static void noop(void *ctx)
{
	(void)ctx;
}

static void test_balloon_device(void)
{
	vmk_error *err = NULL;
	vmk_balloon_stats st;
	uint32_t id, len, v;

	struct virtio_balloon *b = virtio_balloon_new(MEM_SIZE, NULL);
	struct virtio_dev *d = virtio_balloon_dev(b);
	CHECK(b && d->num_queues == 3 && d->config_size == 8 && (d->features & 6) == 6,
	      "balloon: 3 queues, STATS_VQ and DEFLATE_ON_OOM offered");
	features = d->features;
	queues_reset();
	config_changes = 0;

	CHECK(virtio_balloon_set_target(b, 32 * MiB, NULL), "target 32 MiB accepted");
	memcpy(&v, d->config, 4);
	CHECK(v == 8192 && config_changes == 1, "num_pages = (64 - 32) MiB / 4 KiB = %u, config interrupt",
	      v);
	CHECK(!virtio_balloon_set_target(b, MEM_SIZE + 4096, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_INVALID_ARGUMENT,
	      "a target above the memory size is refused");
	vmk_error_free(err);
	memcpy(&v, d->config, 4);
	CHECK(v == 8192 && config_changes == 1, "a refused target changes nothing");

	/* The driver writes actual, and tries to write num_pages. */
	v = 100;
	memcpy(d->config + 4, &v, 4);
	d->config_write(d->opaque, 4, 4);
	v = 0;
	memcpy(d->config, &v, 4);
	d->config_write(d->opaque, 0, 4);
	memcpy(&v, d->config, 4);
	CHECK(v == 8192, "num_pages is restored after a driver write");
	v = 0xffffffff;
	memcpy(d->config + 4, &v, 4);
	d->config_write(d->opaque, 4, 4);
	virtio_balloon_get_stats(b, &st, NULL);
	CHECK(st.target_bytes == 32 * MiB && st.actual_bytes == MEM_SIZE,
	      "target reported; an absurd actual is capped at the memory size");
	v = 100;
	memcpy(d->config + 4, &v, 4);
	d->config_write(d->opaque, 4, 4);
	virtio_balloon_get_stats(b, &st, NULL);
	CHECK(st.actual_bytes == 100 * 4096 && st.free_memory == UINT64_MAX, "actual in bytes, no stats yet");

	/* The statistics protocol: the driver's buffer is held, returned on request. */
	uint8_t *s = g(DATA, 20);
	put_stat(s, VIRTIO_BALLOON_S_MEMFREE, 123456);
	put_stat(s + 10, VIRTIO_BALLOON_S_CACHES, 789);
	uint16_t head = drv_add(2, &(struct buf){DATA, 20, false}, 1);
	d->queue_notify(d->opaque, 2);
	CHECK(!drv_used(2, &id, &len), "the stats buffer is held by the device");
	virtio_balloon_get_stats(b, &st, NULL);
	CHECK(st.free_memory == 123456 && st.disk_caches == 789, "stats from the guest's buffer");
	evloop_call(loop, noop, NULL);
	CHECK(drv_used(2, &id, &len) && id == head && len == 0 && notified[2] == 1,
	      "asking for stats returns the buffer to the driver");
	virtio_balloon_get_stats(b, &st, NULL);
	evloop_call(loop, noop, NULL);
	CHECK(!drv_used(2, &id, &len), "nothing more to return until the driver sends new stats");

	/* A second buffer while one is held: the old one goes back, not leaked. */
	uint16_t h1 = drv_add(2, &(struct buf){DATA, 20, false}, 1);
	uint16_t h2 = drv_add(2, &(struct buf){DATA, 10, false}, 1);
	d->queue_notify(d->opaque, 2);
	CHECK(drv_used(2, &id, &len) && id == h1 && !drv_used(2, &id, &len),
	      "an extra stats buffer is returned");
	(void)h2;

	/* Inflate and deflate through their queues. */
	uint32_t *pfns = g(DATA + 0x1000, 8);
	uint8_t *page = g(DATA + 0x400000, 4096);
	memset(page, 1, 4096);
	pfns[0] = (uint32_t)((DATA + 0x400000) >> 12);
	pfns[1] = 0xfffffff0;
	head = drv_add(0, &(struct buf){DATA + 0x1000, 8, false}, 1);
	d->queue_notify(d->opaque, 0);
	CHECK(drv_used(0, &id, &len) && id == head && len == 0 && page[0] == 0,
	      "inflateq: page released, used");
	head = drv_add(1, &(struct buf){DATA + 0x1000, 8, false}, 1);
	d->queue_notify(d->opaque, 1);
	CHECK(drv_used(1, &id, &len) && id == head, "deflateq: returned");

	d->reset(d->opaque);
	virtio_balloon_get_stats(b, &st, NULL);
	CHECK(st.actual_bytes == 0 && st.free_memory == UINT64_MAX && st.target_bytes == 32 * MiB,
	      "reset: the guest's balloon and stats are gone, the target stays");
	virtio_balloon_free(b);
}

static bool wait_readable(int fd, char *buf, size_t want)
{
	size_t got = 0;

	for (int i = 0; i < 2000 && got < want; i++) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n > 0)
			got += (size_t)n;
		else
			usleep(5000);
	}
	return got == want;
}

static void ctrl(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_console_control m = {id, event, value};

	console_handle_control(c, &m, sizeof(m));
}

/* Reads the next control message the device sent. */
static bool ctrl_got(uint32_t *id, uint16_t *event, uint16_t *value)
{
	uint32_t head, len;
	struct virtio_console_control m;

	if (!drv_used(2, &head, &len) || len != sizeof(m))
		return false;
	memcpy(&m, g(DATA + 0x100 * head, 8), 8);
	*id = m.id;
	*event = m.event;
	*value = m.value;
	return true;
}

static void test_console(void)
{
	int in0[2], out0[2], in1[2], out1[2];
	uint32_t id, len;
	uint16_t ev, val;
	char buf[16];

	if (pipe2(in0, O_NONBLOCK) || pipe2(out0, O_NONBLOCK) || pipe2(in1, O_NONBLOCK) ||
	    pipe2(out1, O_NONBLOCK))
		return;
	int fds[2][2] = {{in0[0], out0[1]}, {in1[0], out1[1]}};
	CHECK(!virtio_console_new((const int(*)[2])fds, 0, NULL) &&
		  !virtio_console_new((const int(*)[2])fds, 17, NULL),
	      "0 or 17 ports are refused");
	struct virtio_console *c = virtio_console_new((const int(*)[2])fds, 2, NULL);
	struct virtio_dev *d = virtio_console_dev(c);
	uint32_t max_ports;
	memcpy(&max_ports, d->config + 4, 4);
	CHECK(c && d->num_queues == 6 && max_ports == 2, "console: 2 ports, 6 queues, max_nr_ports 2");

	features = 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
	queues_reset();
	CHECK(d->activate(d->opaque) == 0, "activated");
	/* Control receive buffers: descriptor i at DATA + 0x100 * i. */
	for (unsigned i = 0; i < 8; i++)
		drv_add(2, &(struct buf){DATA + 0x100 * i, 8, true}, 1);

	ctrl(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	CHECK(ctrl_got(&id, &ev, &val) && id == 0 && ev == VIRTIO_CONSOLE_PORT_ADD &&
		  ctrl_got(&id, &ev, &val) && id == 1 && ev == VIRTIO_CONSOLE_PORT_ADD &&
		  !ctrl_got(&id, &ev, &val),
	      "DEVICE_READY: PORT_ADD for ports 0 and 1");

	ctrl(c, 2, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl(c, 0xffffffff, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl(c, 0x80000000, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ctrl(c, 0, 99, 1);
	ctrl(c, 0, VIRTIO_CONSOLE_PORT_READY, 0);
	struct virtio_console_control shortm = {0, VIRTIO_CONSOLE_PORT_READY, 1};
	console_handle_control(c, &shortm, 6);
	CHECK(!ctrl_got(&id, &ev, &val) && console_pending_control(c) == 0 && needs_reset == 0,
	      "bad port ids, unknown events, failed or short messages are ignored");

	ctrl(c, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	CHECK(ctrl_got(&id, &ev, &val) && id == 0 && ev == VIRTIO_CONSOLE_CONSOLE_PORT && val == 1 &&
		  ctrl_got(&id, &ev, &val) && id == 0 && ev == VIRTIO_CONSOLE_PORT_OPEN && val == 1,
	      "PORT_READY: CONSOLE_PORT then PORT_OPEN");

	/* Guest opens port 0 through the control transmitq. */
	struct virtio_console_control *open = g(DATA + 0x2000, 8);
	*open = (struct virtio_console_control){0, VIRTIO_CONSOLE_PORT_OPEN, 1};
	uint16_t head = drv_add(3, &(struct buf){DATA + 0x2000, 8, false}, 1);
	d->queue_notify(d->opaque, 3);
	CHECK(drv_used(3, &id, &len) && id == head, "control transmitq message consumed");

	/* Host input with no receive buffer waits in the pipe. */
	CHECK(write(in0[1], "hel", 3) == 3, "host typed before the guest gave buffers");
	usleep(20000);
	head = drv_add(0, &(struct buf){DATA + 0x3000, 64, true}, 1);
	d->queue_notify(d->opaque, 0);
	CHECK(drv_wait_used(0, &id, &len) && id == head && len == 3 &&
		  memcmp(g(DATA + 0x3000, 3), "hel", 3) == 0,
	      "input reaches the guest once it gives a buffer (len %u)", len);
	CHECK(write(in0[1], "lo", 2) == 2, "more input");
	usleep(20000);
	head = drv_add(0, &(struct buf){DATA + 0x3100, 1, true}, 1);
	d->queue_notify(d->opaque, 0);
	CHECK(drv_wait_used(0, &id, &len) && len == 1 && *(char *)g(DATA + 0x3100, 1) == 'l',
	      "only as much as the buffer holds is read");
	head = drv_add(0, &(struct buf){DATA + 0x3200, 8, true}, 1);
	d->queue_notify(d->opaque, 0);
	CHECK(drv_wait_used(0, &id, &len) && len == 1 && *(char *)g(DATA + 0x3200, 1) == 'o',
	      "the rest follows in the next buffer");

	/* Guest output. */
	memcpy(g(DATA + 0x4000, 5), "world", 5);
	head = drv_add(1, (struct buf[]){{DATA + 0x4000, 3, false}, {DATA + 0x4003, 2, false}}, 2);
	d->queue_notify(d->opaque, 1);
	CHECK(drv_used(1, &id, &len) && id == head && len == 0 && wait_readable(out0[0], buf, 5) &&
		  memcmp(buf, "world", 5) == 0,
	      "guest output reaches the port's fd");
	memcpy(g(DATA + 0x4100, 4), "two!", 4);
	drv_add(5, &(struct buf){DATA + 0x4100, 4, false}, 1);
	d->queue_notify(d->opaque, 5);
	CHECK(wait_readable(out1[0], buf, 4) && memcmp(buf, "two!", 4) == 0, "port 1 output on queue 5");

	/* Port 1 is not open: its input stays on the host. */
	CHECK(write(in1[1], "x", 1) == 1, "input for the closed port 1");
	drv_add(4, &(struct buf){DATA + 0x5000, 8, true}, 1);
	d->queue_notify(d->opaque, 4);
	usleep(30000);
	CHECK(!drv_used(4, &id, &len), "a port the guest has not opened gets no input");

	/* Overflowing the replies: the driver stops giving control buffers. */
	for (int i = 0; i < 100; i++)
		ctrl(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	CHECK(console_pending_control(c) <= 64, "pending replies stay bounded (%u)",
	      console_pending_control(c));

	/* EOF on port 0's input: no more watching, no crash, no spin. */
	head = drv_add(0, &(struct buf){DATA + 0x3300, 8, true}, 1);
	d->queue_notify(d->opaque, 0);
	close(in0[1]);
	in0[1] = -1;
	usleep(30000);
	CHECK(!drv_used(0, &id, &len), "EOF delivers nothing");

	d->reset(d->opaque);
	evloop_call(loop, noop, NULL);
	CHECK(write(in1[1], "y", 1) == 1, "input after reset");
	usleep(20000);
	CHECK(needs_reset == 0, "the guest never broke the protocol here");

	/* As in the machine, the I/O loop (and every watch) goes before the device. */
	evloop_free(loop);
	loop = evloop_new();
	virtio_console_free(c);

	/* A receive buffer the device cannot write into is failed, not used. */
	features = 0;
	int in2[2];
	if (pipe2(in2, O_NONBLOCK) == 0) {
		fds[0][0] = in2[0];
		c = virtio_console_new((const int(*)[2])fds, 1, NULL);
		d = virtio_console_dev(c);
		queues_reset();
		d->activate(d->opaque);
		CHECK(write(in2[1], "z", 1) == 1, "input without MULTIPORT");
		head = drv_add(0, &(struct buf){DATA + 0x6000, 8, false}, 1);
		uint16_t h2 = drv_add(0, &(struct buf){DATA + 0x6100, 8, true}, 1);
		d->queue_notify(d->opaque, 0);
		CHECK(drv_wait_used(0, &id, &len) && id == head && len == 0 && drv_wait_used(0, &id, &len) &&
			  id == h2 && len == 1,
		      "without MULTIPORT port 0 is open; a read-only rx buffer is failed");
		evloop_free(loop);
		loop = evloop_new();
		virtio_console_free(c);
		close(in2[0]);
		close(in2[1]);
	}
	for (int i = 0; i < 2; i++) {
		close(in0[i]);
		close(out0[i]);
		close(in1[i]);
		close(out1[i]);
	}
}

/* The configuration side: at most one of each, up to 16 console ports. */
static void test_config(void)
{
	vmk_config *cfg = vmk_config_new();
	vmk_error *err = NULL;

	CHECK(vmk_config_add_entropy_device(cfg, NULL) && !vmk_config_add_entropy_device(cfg, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED,
	      "a second entropy device is refused");
	vmk_error_free(err);
	err = NULL;
	CHECK(vmk_config_add_memory_balloon(cfg, NULL) && !vmk_config_add_memory_balloon(cfg, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED,
	      "a second balloon is refused");
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_config_add_entropy_device(NULL, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_INVALID_ARGUMENT,
	      "NULL configuration");
	vmk_error_free(err);
	err = NULL;

	vmk_serial_port *p = vmk_serial_port_new(VMK_SERIAL_PORT_VIRTIO_CONSOLE, NULL);
	bool all = p != NULL;
	for (int i = 0; all && i < 16; i++)
		all = vmk_config_add_serial_port(cfg, p, NULL);
	CHECK(all && !vmk_config_add_serial_port(cfg, p, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED,
	      "16 virtio console ports, not 17");
	vmk_error_free(err);
	vmk_config *copy = vmk_config_copy(cfg);
	CHECK(copy && vmk_config_get_serial_port_count(copy) == 16 &&
		  !vmk_config_add_entropy_device(copy, NULL) && !vmk_config_add_memory_balloon(copy, NULL),
	      "a copy keeps the ports, the entropy device and the balloon");
	vmk_config_free(copy);
	vmk_serial_port_free(p);
	vmk_config_free(cfg);
}

/* virtio-net's transmit queue over a socketpair whose peer reads only when
 * told: what the socket cannot take waits in the ring, nothing is lost,
 * sent twice or reordered. Queue work runs on the I/O loop, as for real. */
#define NET_TXQ	 1
#define NET_DATA (DATA + 0x800000)

static void net_kick(void *ctx)
{
	struct virtio_dev *d = ctx;

	d->queue_notify(d->opaque, NET_TXQ);
}

static void net_reset(void *ctx)
{
	struct virtio_dev *d = ctx;

	d->reset(d->opaque);
}

/* One chain: a zero virtio-net header and a 60-byte frame carrying seq. */
static void net_post(uint32_t seq)
{
	uint64_t gpa = NET_DATA + 128ull * (seq % 1024);
	uint8_t *p = g(gpa, 72);

	memset(p, 0, 72);
	memset(p + 12, 0xff, 6);
	memcpy(p + 12 + 14, &seq, 4);
	drv_add(NET_TXQ, &(struct buf){gpa, 72, false}, 1);
}

static unsigned used_count(void)
{
	uint32_t id, len;
	unsigned n = 0;

	while (drv_used(NET_TXQ, &id, &len))
		n++;
	return n;
}

/* Reads what the peer has; counts frames and checks their order. */
static unsigned peer_read(int fd, uint32_t *next, bool *in_order)
{
	uint8_t buf[256];
	unsigned n = 0;
	uint32_t seq;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 60) {
		memcpy(&seq, buf + 14, 4);
		*in_order = *in_order && seq == *next;
		*next = seq + 1;
		n++;
	}
	return n;
}

static void test_net_tx_backpressure(void)
{
	vmk_error *err = NULL;
	uint32_t seq = 0, next = 0;
	bool in_order = true;
	int sp[2], tiny = 1;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) != 0)
		return;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &tiny, sizeof(tiny));
	vmk_network_attachment *a = vmk_fd_network_attachment_new(sp[0], NULL);
	vmk_network_device *cfg = vmk_virtio_network_device_new(a);
	struct virtio_net *nd = virtio_net_new(cfg, 0, NULL, &err);
	vmk_network_device_free(cfg);
	vmk_network_attachment_free(a);
	close(sp[0]);
	CHECK(nd != NULL, "net: device over a datagram socketpair");
	if (!nd)
		return;
	struct virtio_dev *d = virtio_net_dev(nd);
	features = d->features;
	queues_reset();
	CHECK(virtio_net_start(nd) == 0 && d->activate(d->opaque) == 0, "net: started and activated");

	/* A full ring: the socket takes a few, the rest wait. */
	for (unsigned i = 0; i < QSIZE; i++)
		net_post(seq++);
	evloop_call(loop, net_kick, d);
	unsigned used = used_count();
	CHECK(used > 0 && used < QSIZE && notified[NET_TXQ] == 1,
	      "net: %u of %u sent and used, one interrupt; the rest wait in the ring", used, QSIZE);
	evloop_call(loop, net_kick, d);
	evloop_call(loop, net_kick, d);
	CHECK(used_count() == 0 && notified[NET_TXQ] == 1, "net: kicks while blocked send nothing");

	/* The peer reads: the device resumes on its own, kicked or not. */
	unsigned got = 0;
	for (int i = 0; i < 2000 && (got < QSIZE || used < QSIZE); i++) {
		got += peer_read(sp[1], &next, &in_order);
		used += used_count();
		usleep(5000);
	}
	usleep(50000);
	got += peer_read(sp[1], &next, &in_order);
	CHECK(got == QSIZE && used == QSIZE && in_order,
	      "net: the peer got all %u frames once, in order (%u, %s); all used", QSIZE, got,
	      in_order ? "in order" : "out of order");

	/* A driver reset while blocked: the transport forgets the queue, and a
	 * late writable wakeup finds nothing to resume. */
	for (unsigned i = 0; i < QSIZE; i++)
		net_post(seq++);
	evloop_call(loop, net_kick, d);
	used = used_count();
	CHECK(used > 0 && used < QSIZE, "net: blocked again after %u", used);
	evloop_call(loop, net_reset, d);
	tq_on[NET_TXQ] = false;
	got = peer_read(sp[1], &next, &in_order);
	usleep(50000);
	got += peer_read(sp[1], &next, &in_order);
	CHECK(got == used && in_order, "net: after the reset only the %u sent frames arrive (%u)", used, got);

	/* The driver sets the queue up again: sending works at once. */
	queues_reset();
	d->activate(d->opaque);
	next = seq;
	net_post(seq++);
	evloop_call(loop, net_kick, d);
	usleep(20000);
	got = peer_read(sp[1], &next, &in_order);
	CHECK(used_count() == 1 && got == 1 && in_order, "net: after re-init a frame goes out at once");

	/* virtio_net_stop stops the backend on the loop only once a transport
	 * exists; this one is never dereferenced. */
	d->transport = (struct virtio_pci *)(void *)&loop;
	virtio_net_stop(nd);
	virtio_net_free(nd);
	close(sp[1]);
}

static int disconnects;

static void net_disconnected(void *ctx, unsigned index)
{
	(void)ctx;
	(void)index;
	disconnects++;
}

static uint16_t net_status(struct virtio_dev *d)
{
	uint16_t st;

	memcpy(&st, d->config + 6, 2);
	return st;
}

static vmk_network_attachment *fd_attachment(int fd, unsigned mtu)
{
	vmk_network_attachment *a = vmk_fd_network_attachment_new(fd, NULL);

	if (a && mtu)
		vmk_fd_network_attachment_set_mtu(a, mtu, NULL);
	return a;
}

/* Changing the attachment under a running driver: the frames waiting for a
 * full socket are dropped with it, the guest sees the link go down and up,
 * new frames reach the new peer only; an attachment that does not fit is
 * refused with nothing changed; NULL pulls the cable. The disconnected
 * hook never fires for it. */
static void test_net_change_attachment(void)
{
	struct virtio_net_hooks hooks = {.disconnected = net_disconnected};
	vmk_error *err = NULL;
	uint32_t seq = 0, next = 0;
	bool in_order = true;
	int sp[2], sp2[2], tiny = 1;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) != 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, sp2) != 0)
		return;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &tiny, sizeof(tiny));
	vmk_network_attachment *a = fd_attachment(sp[0], 0);
	vmk_network_device *cfg = vmk_virtio_network_device_new(a);
	struct virtio_net *nd = virtio_net_new(cfg, 2, &hooks, &err);
	vmk_network_device_free(cfg);
	vmk_network_attachment_free(a);
	close(sp[0]);
	CHECK(nd != NULL, "swap: device over a datagram socketpair");
	if (!nd)
		return;
	struct virtio_dev *d = virtio_net_dev(nd);
	features = d->features;
	queues_reset();
	CHECK(virtio_net_start(nd) == 0 && d->activate(d->opaque) == 0, "swap: started and activated");
	/* Live from here on; the stand-in transport is never dereferenced. */
	d->transport = (struct virtio_pci *)(void *)&loop;

	for (unsigned i = 0; i < QSIZE; i++)
		net_post(seq++);
	evloop_call(loop, net_kick, d);
	unsigned sent = used_count();
	CHECK(sent > 0 && sent < QSIZE, "swap: %u sent, the rest wait for the full socket", sent);

	int changes = config_changes;
	a = fd_attachment(sp2[0], 0);
	bool ok = virtio_net_change_attachment(nd, a, &err);
	vmk_network_attachment_free(a);
	close(sp2[0]);
	CHECK(ok && !err, "swap: to a new socketpair");
	CHECK(config_changes == changes + 2 && net_status(d) == 1, "swap: link down then up (%d changes)",
	      config_changes - changes);
	CHECK(used_count() == QSIZE - sent, "swap: the %u waiting frames are dropped (used)", QSIZE - sent);
	usleep(20000);
	CHECK(peer_read(sp[1], &next, &in_order) == sent && in_order,
	      "swap: the old peer got only the sent ones");

	next = seq;
	for (int i = 0; i < 3; i++)
		net_post(seq++);
	evloop_call(loop, net_kick, d);
	usleep(20000);
	CHECK(peer_read(sp2[1], &next, &in_order) == 3 && in_order && used_count() == 3,
	      "swap: new frames reach the new peer");
	CHECK(peer_read(sp[1], &next, &in_order) == 0, "swap: and not the old one");

	/* An MTU the guest did not read at boot: refused, nothing changes. */
	int sp3[2];
	changes = config_changes;
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp3) == 0) {
		a = fd_attachment(sp3[0], 9000);
		ok = virtio_net_change_attachment(nd, a, &err);
		vmk_network_attachment_free(a);
		CHECK(!ok && err && vmk_error_get_code(err) == VMK_ERR_NETWORK_ATTACHMENT &&
			  !strcmp(vmk_error_get_field(err), "network_devices[2].attachment") &&
			  strstr(vmk_error_get_message(err), "MTU 9000 differs from the device's 1500"),
		      "swap: MTU 9000 refused: %s", err ? vmk_error_get_message(err) : "no error");
		vmk_error_free(err);
		err = NULL;
		close(sp3[0]);
		close(sp3[1]);
	}
	next = seq;
	net_post(seq++);
	evloop_call(loop, net_kick, d);
	usleep(20000);
	CHECK(config_changes == changes && peer_read(sp2[1], &next, &in_order) == 1 && used_count() == 1,
	      "swap: after the refusal the device still uses the same peer");

	/* NULL: the cable is out, frames are dropped. */
	ok = virtio_net_change_attachment(nd, NULL, &err);
	CHECK(ok && config_changes == changes + 1 && net_status(d) == 0, "swap: NULL pulls the cable");
	net_post(seq++);
	net_post(seq++);
	evloop_call(loop, net_kick, d);
	usleep(20000);
	CHECK(used_count() == 2 && peer_read(sp2[1], &next, &in_order) == 0,
	      "swap: unplugged frames dropped");
	CHECK(disconnects == 0, "swap: no disconnect reported (%d)", disconnects);

	virtio_net_stop(nd);
	virtio_net_free(nd);
	close(sp[1]);
	close(sp2[1]);
}

int main(void)
{
	if (gmem_init(&mem, MEM_SIZE) != 0)
		return 1;
	loop = evloop_new();
	test_rng();
	test_balloon_inflate();
	test_balloon_stats_parse();
	test_balloon_device();
	test_console();
	test_config();
	test_net_tx_backpressure();
	test_net_change_attachment();
	evloop_free(loop);
	gmem_destroy(&mem);
	return check_done();
}
