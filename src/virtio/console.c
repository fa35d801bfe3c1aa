/* virtio-console (virtio 1.2 §5.3) with VIRTIO_CONSOLE_F_MULTIPORT: one
 * port per VMK_SERIAL_PORT_VIRTIO_CONSOLE serial port, each announced as a
 * console port so Linux makes them hvc0, hvc1... in order.
 *
 * Queues: port 0 receiveq/transmitq are 0/1, the control receiveq/transmitq
 * 2/3, port n > 0 uses 2 + 2n and 3 + 2n. Host input is read straight into
 * the guest's receive buffers, one read per wake-up, and only while the
 * guest has the port open and has given buffers: with none, the fd is no
 * longer watched until the next kick, so the host side sees back-pressure. */
#include "virtio/console.h"
#include "util/error_priv.h"
#include "virtio/devices.h"
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CONSOLE_MAX_PORTS VMK_MAX_SERIAL_PORTS
#define CONSOLE_CTRL_RXQ  2
#define CONSOLE_CTRL_TXQ  3
/* Four replies per port cover a full bring-up; a driver repeating
 * DEVICE_READY without giving buffers loses the excess, nothing more. */
#define CONSOLE_MAX_PENDING (4 * CONSOLE_MAX_PORTS)

struct console_port {
	struct virtio_console *c;
	unsigned id;
	int in_fd, out_fd;
	bool guest_open; /* PORT_OPEN(1) from the driver, or no MULTIPORT */
	bool eof;	 /* in_fd ended; stays so across resets */
	bool watching;
	bool rx_held; /* rx holds a popped, still empty receive buffer */
	struct virtq_elem rx;
};

struct virtio_console {
	struct virtio_dev dev;
	struct {
		uint16_t cols, rows;
		uint32_t max_nr_ports;
		uint32_t emerg_wr;
	} config;
	unsigned nports;
	struct evloop *loop; /* where ports are watched */

	pthread_mutex_t lock; /* guards everything below and the ports */
	bool active;
	bool multiport;
	struct virtio_console_control pending[CONSOLE_MAX_PENDING];
	unsigned pending_head, pending_count;
	struct virtq_elem elem;
	struct console_port *ports;
};

/* What to tell the transport once the lock is dropped. */
struct console_out {
	uint64_t notify; /* queue bitmap */
	const char *broken;
};

static unsigned port_rxq(unsigned id)
{
	return id ? 2 + 2 * id : 0;
}

static unsigned port_txq(unsigned id)
{
	return id ? 3 + 2 * id : 1;
}

static void console_finish(struct virtio_console *c, struct console_out *out)
{
	for (unsigned q = 0; q < c->dev.num_queues; q++)
		if (out->notify & (1ull << q))
			virtio_notify_queue(&c->dev, q);
	if (out->broken)
		virtio_set_needs_reset(&c->dev, out->broken);
}

static void ctrl_queue(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value)
{
	if (c->pending_count == CONSOLE_MAX_PENDING)
		return;
	c->pending[(c->pending_head + c->pending_count++) % CONSOLE_MAX_PENDING] =
	    (struct virtio_console_control){htole32(id), htole16(event), htole16(value)};
}

static void ctrl_flush(struct virtio_console *c, struct console_out *out)
{
	struct virtq *vq;
	int r = 0;

	if (!c->active || !c->multiport || !c->pending_count)
		return;
	vq = virtio_queue(&c->dev, CONSOLE_CTRL_RXQ);
	if (!vq)
		return;
	while (c->pending_count && (r = virtq_pop(vq, &c->elem)) == 1) {
		const struct virtio_console_control *m = &c->pending[c->pending_head];

		out->notify |= 1ull << CONSOLE_CTRL_RXQ;
		/* A buffer too small for a message is consumed, the message kept. */
		if (c->elem.in_len < sizeof(*m)) {
			virtq_push(vq, c->elem.head, 0);
			continue;
		}
		iov_copy_to(&c->elem.iov[c->elem.nout], c->elem.nin, 0, m, sizeof(*m));
		virtq_push(vq, c->elem.head, sizeof(*m));
		c->pending_head = (c->pending_head + 1) % CONSOLE_MAX_PENDING;
		c->pending_count--;
	}
	if (c->pending_count && r < 0)
		out->broken = "virtio-console: malformed control receiveq";
}

static void port_readable(void *ctx, uint32_t events);

/* Starts or stops watching the port's input as the guest's state allows.
 * A missing receiveq is found by the first read, not here: this also runs
 * from activate, where the transport's queue lookup must not be used. */
static void port_update_watch(struct virtio_console *c, struct console_port *p)
{
	bool want = c->active && p->guest_open && !p->eof && p->in_fd >= 0;

	if (want && !p->watching) {
		if (!c->loop)
			c->loop = virtio_io_loop(&c->dev);
		p->watching = c->loop && evloop_add_fd(c->loop, p->in_fd, EPOLLIN, port_readable, p) == 0;
	} else if (!want && p->watching) {
		evloop_del_fd(c->loop, p->in_fd);
		p->watching = false;
	}
}

static void port_stop_watch(struct virtio_console *c, struct console_port *p)
{
	if (p->watching)
		evloop_del_fd(c->loop, p->in_fd);
	p->watching = false;
}

/* One read from the port's fd into one guest receive buffer. */
static void port_receive(struct virtio_console *c, struct console_port *p, struct console_out *out)
{
	unsigned q = port_rxq(p->id);
	struct virtq *vq = virtio_queue(&c->dev, q);
	ssize_t n;
	int r;

	if (!c->active || !p->guest_open || p->eof || !vq) {
		port_stop_watch(c, p);
		return;
	}
	if (!p->rx_held) {
		r = virtq_pop(vq, &p->rx);
		if (r <= 0) {
			if (r < 0)
				out->broken = "virtio-console: malformed receiveq";
			port_stop_watch(c, p);
			return;
		}
		p->rx_held = true;
	}
	out->notify |= 1ull << q;
	if (!p->rx.in_len) {
		/* Nothing writable: fail this buffer, try the next one. */
		virtq_push(vq, p->rx.head, 0);
		p->rx_held = false;
		return;
	}
	n = readv(p->in_fd, &p->rx.iov[p->rx.nout], (int)p->rx.nin);
	if (n > 0) {
		virtq_push(vq, p->rx.head, (uint32_t)n);
		p->rx_held = false;
		return;
	}
	out->notify &= ~(1ull << q);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	p->eof = true;
	port_stop_watch(c, p);
}

static void port_readable(void *ctx, uint32_t events)
{
	struct console_port *p = ctx;
	struct virtio_console *c = p->c;
	struct console_out out = {0};

	(void)events;
	pthread_mutex_lock(&c->lock);
	port_receive(c, p, &out);
	pthread_mutex_unlock(&c->lock);
	console_finish(c, &out);
}

static void write_all(int fd, const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			ssize_t w = write(fd, b, left);

			if (w < 0 && errno == EINTR)
				continue;
			/* The host end is gone or full: the guest's output is dropped. */
			if (w <= 0)
				return;
			b += w;
			left -= (size_t)w;
		}
	}
}

static void port_transmit(struct virtio_console *c, struct console_port *p, struct console_out *out)
{
	unsigned q = port_txq(p->id);
	struct virtq *vq = virtio_queue(&c->dev, q);
	int r;

	if (!vq)
		return;
	while ((r = virtq_pop(vq, &c->elem)) == 1) {
		if (p->out_fd >= 0)
			write_all(p->out_fd, c->elem.iov, c->elem.nout);
		virtq_push(vq, c->elem.head, 0);
		out->notify |= 1ull << q;
	}
	if (r < 0)
		out->broken = "virtio-console: malformed transmitq";
}

static void control(struct virtio_console *c, const void *msg, size_t len)
{
	struct virtio_console_control m;
	struct console_port *p;
	uint32_t id;

	if (len < sizeof(m))
		return;
	memcpy(&m, msg, sizeof(m));
	id = le32toh(m.id);
	switch (le16toh(m.event)) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (le16toh(m.value) != 1)
			return;
		for (unsigned i = 0; i < c->nports; i++)
			ctrl_queue(c, i, VIRTIO_CONSOLE_PORT_ADD, 1);
		return;
	case VIRTIO_CONSOLE_PORT_READY:
		if (id >= c->nports || le16toh(m.value) != 1)
			return;
		ctrl_queue(c, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
		/* Our host side is always connected. */
		ctrl_queue(c, id, VIRTIO_CONSOLE_PORT_OPEN, 1);
		return;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (id >= c->nports)
			return;
		p = &c->ports[id];
		p->guest_open = m.value != 0;
		port_update_watch(c, p);
		return;
	default:
		return;
	}
}

static void ctrl_receive(struct virtio_console *c, struct console_out *out)
{
	struct virtq *vq = virtio_queue(&c->dev, CONSOLE_CTRL_TXQ);
	struct virtio_console_control m;
	int r;

	if (!vq)
		return;
	while ((r = virtq_pop(vq, &c->elem)) == 1) {
		size_t got = iov_copy_from(c->elem.iov, c->elem.nout, 0, &m, sizeof(m));

		control(c, &m, got);
		virtq_push(vq, c->elem.head, 0);
		out->notify |= 1ull << CONSOLE_CTRL_TXQ;
	}
	if (r < 0)
		out->broken = "virtio-console: malformed control transmitq";
}

void console_handle_control(struct virtio_console *c, const void *msg, size_t len)
{
	struct console_out out = {0};

	pthread_mutex_lock(&c->lock);
	if (c->active && c->multiport) {
		control(c, msg, len);
		ctrl_flush(c, &out);
	}
	pthread_mutex_unlock(&c->lock);
	console_finish(c, &out);
}

unsigned console_pending_control(struct virtio_console *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->pending_count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void console_queue_notify(void *opaque, unsigned q)
{
	struct virtio_console *c = opaque;
	struct console_out out = {0};
	unsigned id;

	pthread_mutex_lock(&c->lock);
	if (!c->active || q >= c->dev.num_queues || (!c->multiport && q > 1))
		goto out;
	if (q == CONSOLE_CTRL_TXQ) {
		ctrl_receive(c, &out);
		ctrl_flush(c, &out);
	} else if (q == CONSOLE_CTRL_RXQ) {
		ctrl_flush(c, &out);
	} else {
		id = q < 2 ? 0 : (q - 2) / 2;
		if (id >= c->nports)
			goto out;
		if (q == port_rxq(id))
			port_update_watch(c, &c->ports[id]);
		else
			port_transmit(c, &c->ports[id], &out);
	}
out:
	pthread_mutex_unlock(&c->lock);
	console_finish(c, &out);
}

static void console_forget(struct virtio_console *c)
{
	c->pending_head = c->pending_count = 0;
	for (unsigned i = 0; i < c->nports; i++) {
		c->ports[i].guest_open = false;
		c->ports[i].rx_held = false;
	}
}

static int console_activate(void *opaque)
{
	struct virtio_console *c = opaque;

	pthread_mutex_lock(&c->lock);
	console_forget(c);
	c->active = true;
	c->multiport = virtio_has_feature(&c->dev, VIRTIO_CONSOLE_F_MULTIPORT);
	/* Without MULTIPORT there is no PORT_OPEN: port 0 is simply there. */
	if (!c->multiport) {
		c->ports[0].guest_open = true;
		port_update_watch(c, &c->ports[0]);
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* The watches stay until their next wake-up finds the device inactive:
 * removing them from here could race with a callback already running. */
static void console_reset(void *opaque)
{
	struct virtio_console *c = opaque;

	pthread_mutex_lock(&c->lock);
	c->active = false;
	c->multiport = false;
	console_forget(c);
	pthread_mutex_unlock(&c->lock);
}

static void console_config_write(void *opaque, size_t off, unsigned size)
{
	struct virtio_console *c = opaque;

	(void)off;
	(void)size;
	/* Nothing in it is the driver's to write (EMERG_WRITE is not offered). */
	c->config.max_nr_ports = htole32(c->nports);
	c->config.emerg_wr = 0;
	c->config.cols = c->config.rows = 0;
}

struct virtio_console *virtio_console_new(const int (*fds)[2], unsigned nports, vmk_error **err)
{
	struct virtio_console *c;

	if (nports == 0 || nports > CONSOLE_MAX_PORTS || !fds) {
		vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "serial_ports",
			      "serial_ports: a virtio console has 1 to %d ports, not %u", CONSOLE_MAX_PORTS,
			      nports);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->ports = calloc(nports, sizeof(*c->ports));
	if (!c || !c->ports) {
		free(c);
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "serial_ports", "serial_ports: out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->nports = nports;
	for (unsigned i = 0; i < nports; i++)
		c->ports[i] = (struct console_port){.c = c, .id = i, .in_fd = fds[i][0], .out_fd = fds[i][1]};
	c->config.max_nr_ports = htole32(nports);
	c->dev = (struct virtio_dev){
	    .name = "virtio-console",
	    .device_id = VIRTIO_ID_CONSOLE,
	    .pci_class = 0x078000,
	    .features = 1ull << VIRTIO_CONSOLE_F_MULTIPORT,
	    .num_queues = 2 * (nports + 1),
	    .queue_max_size = 256,
	    .config = (uint8_t *)&c->config,
	    .config_size = sizeof(c->config),
	    .opaque = c,
	    .config_write = console_config_write,
	    .activate = console_activate,
	    .queue_notify = console_queue_notify,
	    .reset = console_reset,
	};
	return c;
}

struct virtio_dev *virtio_console_dev(struct virtio_console *c)
{
	return &c->dev;
}

void virtio_console_free(struct virtio_console *c)
{
	/* The I/O loop, and the port watches with it, is already gone. */
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->ports);
	free(c);
}
