/* The machine's PCI devices: the host bridge, then one virtio-pci function
 * per configured device, in a stable order (storage, then network, in
 * configuration order, then console, entropy, balloon, vsock, file systems,
 * input devices, graphics) so guest device
 * names do not shift. */
#include <errno.h>
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "util/error_priv.h"
#include "virtio/gpu_proto.h"
#include "vm/machine_priv.h"

static bool add_transport(struct machine *m, struct virtio_dev *d, vmk_error **err)
{
	if (m->ntransports == sizeof(m->transports) / sizeof(m->transports[0]))
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, NULL, "too many PCI devices");
	struct virtio_pci_env env = {.vm_fd = m->vm_fd, .irq = &m->irq, .io = m->io, .mem = &m->mem};
	struct virtio_pci *t = virtio_pci_new(d, &env, m->pci, err);
	if (!t)
		return false;
	m->transports[m->ntransports++] = t;
	return true;
}

struct net_event {
	void (*fn)(void *ctx, unsigned index);
	void *ctx;
	unsigned index;
};

static void net_event_run(void *arg)
{
	struct net_event *e = arg;

	e->fn(e->ctx, e->index);
	free(e);
}

/* From the I/O thread to the VM's event thread, which outlives the machine:
 * the event carries the VM's context, not the machine. */
static void net_disconnected(void *ctx, unsigned index)
{
	struct machine *m = ctx;
	struct net_event *e;

	if (!m->ev.network_disconnected || !(e = malloc(sizeof(*e))))
		return;
	*e = (struct net_event){.fn = m->ev.network_disconnected, .ctx = m->ev_ctx, .index = index};
	if (evloop_post(m->loop, net_event_run, e) != 0)
		free(e);
}

struct fs_event {
	void (*fn)(void *ctx, unsigned index, const char *why);
	void *ctx;
	unsigned index;
	char why[128];
};

static void fs_event_run(void *arg)
{
	struct fs_event *e = arg;

	e->fn(e->ctx, e->index, e->why);
	free(e);
}

static void fs_failed(void *ctx, unsigned index, const char *why)
{
	struct machine *m = ctx;
	struct fs_event *e;

	if (!m->ev.fs_failed || !(e = malloc(sizeof(*e))))
		return;
	*e = (struct fs_event){.fn = m->ev.fs_failed, .ctx = m->ev_ctx, .index = index};
	snprintf(e->why, sizeof(e->why), "%s", why);
	if (evloop_post(m->loop, fs_event_run, e) != 0)
		free(e);
}

/* --- run-time sockets: the device's hooks, handed to the VM's event loop --- */

struct vsock_event {
	struct machine_events ev;
	void *ctx;
	uint64_t id;
	uint32_t port, guest_port;
	int fd, error;
	bool accept;
};

static void vsock_event_run(void *arg)
{
	struct vsock_event *e = arg;

	if (e->accept)
		e->ev.vsock_accept(e->ctx, e->id, e->port, e->guest_port, e->fd);
	else
		e->ev.vsock_connected(e->ctx, e->id, e->fd, e->error);
	free(e);
}

static bool vsock_post(struct machine *m, const struct vsock_event *ev)
{
	struct vsock_event *e = malloc(sizeof(*e));

	if (!e)
		return false;
	*e = *ev;
	e->ev = m->ev;
	e->ctx = m->ev_ctx;
	if (evloop_post(m->loop, vsock_event_run, e) != 0) {
		free(e);
		return false;
	}
	return true;
}

static bool vsock_has_listener(void *ctx, uint32_t port)
{
	struct machine *m = ctx;

	return m->ev.vsock_has_listener && m->ev.vsock_accept && m->ev.vsock_new_id &&
	       m->ev.vsock_has_listener(m->ev_ctx, port);
}

static uint64_t vsock_new_id(void *ctx)
{
	struct machine *m = ctx;

	return m->ev.vsock_new_id(m->ev_ctx);
}

static bool vsock_accept(void *ctx, uint64_t id, uint32_t port, uint32_t guest_port, int fd)
{
	return vsock_post(ctx,
			  &(struct vsock_event){
			      .id = id, .port = port, .guest_port = guest_port, .fd = fd, .accept = true});
}

static bool vsock_connected(void *ctx, uint64_t id, int fd, int error)
{
	struct machine *m = ctx;

	if (!m->ev.vsock_connected)
		return false;
	return vsock_post(m, &(struct vsock_event){.id = id, .fd = fd, .error = error});
}

bool machine_vsock_connect(struct machine *m, uint64_t id, uint32_t guest_port, vmk_error **err)
{
	if (!m->vsock)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "socket_device",
				     "the VM has no socket device");
	if (!virtio_vsock_connect(m->vsock, id, guest_port))
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "socket_device", "out of memory");
	return true;
}

void machine_vsock_accept_done(struct machine *m, uint64_t id, bool accept)
{
	if (m->vsock)
		virtio_vsock_accept_done(m->vsock, id, accept);
}

static void gpu_update(void *ctx, unsigned index, unsigned scanout, const struct gpu_rect *d)
{
	struct machine *m = ctx;
	vmk_rect r;
	if (!m->ev.display_update)
		return;
	if (d)
		r = (vmk_rect){d->x, d->y, d->width, d->height};
	m->ev.display_update(m->ev_ctx, index, scanout, d ? &r : NULL);
}

/* --- the PS/2 typist --- */

/* One key event per 8 ms: OVMF's PS/2 driver collects scan codes every
 * 20 ms into a 32-entry queue and loses what does not fit, so a burst of a
 * typed line would arrive cut; Linux takes them at any pace. */
#define PS2_KEY_NS 8000000

static void ps2_arm(struct machine *m, bool on)
{
	struct itimerspec t = {0};
	if (on)
		t.it_value.tv_nsec = t.it_interval.tv_nsec = PS2_KEY_NS;
	timerfd_settime(m->ps2_tfd, 0, &t, NULL);
	m->ps2_armed = on;
}

static void ps2_tick(void *ctx, uint32_t events)
{
	struct machine *m = ctx;
	uint64_t n;
	(void)events;
	(void)!read(m->ps2_tfd, &n, sizeof(n));
	pthread_mutex_lock(&m->ps2_lock);
	if (m->ps2_n) {
		struct ps2_key *k = &m->ps2_q[m->ps2_head];
		/* Full (the guest has not read): try again next tick. Not read
		 * at all any more (the guest turned the keyboard off): dropped. */
		if (i8042_key(m->kbd, k->code, k->down) != -ENOSPC) {
			m->ps2_head = (m->ps2_head + 1) % (sizeof(m->ps2_q) / sizeof(m->ps2_q[0]));
			m->ps2_n--;
		}
	}
	if (!m->ps2_n)
		ps2_arm(m, false);
	pthread_mutex_unlock(&m->ps2_lock);
}

/* VM event thread: queues a key for the PS/2 keyboard. */
static bool ps2_type(struct machine *m, uint16_t code, bool down, vmk_error **err)
{
	const unsigned cap = sizeof(m->ps2_q) / sizeof(m->ps2_q[0]);
	pthread_mutex_lock(&m->ps2_lock);
	if (m->ps2_n == cap) {
		pthread_mutex_unlock(&m->ps2_lock);
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "key",
				     "key: the guest has not read the %u keys typed before", cap);
	}
	m->ps2_q[(m->ps2_head + m->ps2_n++) % cap] = (struct ps2_key){code, down};
	if (!m->ps2_armed)
		ps2_arm(m, true);
	pthread_mutex_unlock(&m->ps2_lock);
	return true;
}

static bool ps2_setup(struct machine *m, vmk_error **err)
{
	pthread_mutex_init(&m->ps2_lock, NULL);
	m->ps2_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->ps2_tfd < 0 || evloop_add_fd(m->io, m->ps2_tfd, EPOLLIN, ps2_tick, m) != 0)
		return vmk_set_errno(err, VMK_ERR_INTERNAL, NULL, errno, "cannot make the keyboard's timer");
	return true;
}

bool machine_setup_devices(struct machine *m, const int (*serial_fds)[2], vmk_error **err)
{
	const struct vmk_config *cfg = m->cfg;
	m->pci = pci_host_new(&m->pio, &m->mmio, LAYOUT_ECAM, LAYOUT_PCI_WIN, LAYOUT_PCI_WIN_SIZE,
			      LAYOUT_PCI_IO, LAYOUT_PCI_IO_SIZE);
	m->io = evloop_new();
	if (m->io)
		evloop_set_name(m->io, "vmk-io");
	m->ps2_tfd = -1;
	if (!m->pci || !m->io)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL,
				     "cannot create the PCI host or I/O thread");
	if (!ps2_setup(m, err))
		return false;

	for (size_t i = 0; i < cfg->storage_count; i++) {
		struct virtio_blk *b = virtio_blk_new(cfg->storage[i], (unsigned)i, err);
		if (!b)
			return false;
		m->blk[m->nblk++] = b;
		if (!add_transport(m, virtio_blk_dev(b), err))
			return false;
	}

	struct virtio_net_hooks hooks = {.disconnected = net_disconnected, .ctx = m};
	for (size_t i = 0; i < cfg->network_count; i++) {
		struct virtio_net *n = virtio_net_new(cfg->network[i], (unsigned)i, &hooks, err);
		if (!n)
			return false;
		m->net[m->nnet++] = n;
		if (!add_transport(m, virtio_net_dev(n), err))
			return false;
		if (virtio_net_start(n) != 0)
			return vmk_set_error(err, VMK_ERR_INTERNAL, "network_devices",
					     "network_devices[%zu]: cannot watch the attachment", i);
	}

	int cfds[VMK_MAX_SERIAL_PORTS][2];
	unsigned nports = 0;
	for (size_t i = 0; i < cfg->serial_port_count; i++) {
		if (cfg->serial_ports[i]->kind != VMK_SERIAL_PORT_VIRTIO_CONSOLE)
			continue;
		cfds[nports][0] = serial_fds[i][0];
		cfds[nports][1] = serial_fds[i][1];
		nports++;
	}
	if (nports) {
		m->console = virtio_console_new((const int(*)[2])cfds, nports, err);
		if (!m->console || !add_transport(m, virtio_console_dev(m->console), err))
			return false;
	}
	if (cfg->entropy) {
		m->rng = virtio_rng_new(err);
		if (!m->rng || !add_transport(m, virtio_rng_dev(m->rng), err))
			return false;
	}
	if (cfg->balloon) {
		m->balloon = virtio_balloon_new(cfg->memory_size, err);
		if (!m->balloon || !add_transport(m, virtio_balloon_dev(m->balloon), err))
			return false;
	}
	if (cfg->vsock) {
		struct virtio_vsock_hooks vh = {.ctx = m,
						.has_listener = vsock_has_listener,
						.new_id = vsock_new_id,
						.accept = vsock_accept,
						.connected = vsock_connected};
		m->vsock = virtio_vsock_new(cfg->vsock, &vh, err);
		if (!m->vsock || !add_transport(m, virtio_vsock_dev(m->vsock), err))
			return false;
	}
	struct virtio_fs_hooks fs_hooks = {.failed = fs_failed, .ctx = m};
	for (size_t i = 0; i < cfg->fs_count; i++) {
		struct virtio_fs *f = virtio_fs_new(cfg->fs[i], (unsigned)i, &fs_hooks, err);
		if (!f)
			return false;
		m->fs[m->nfs++] = f;
		if (!add_transport(m, virtio_fs_dev(f), err))
			return false;
	}
	for (size_t i = 0; i < cfg->input_count; i++) {
		struct virtio_input *in = virtio_input_new(&cfg->input[i], err);
		if (!in)
			return false;
		m->input[m->ninput++] = in;
		if (!add_transport(m, virtio_input_dev(in), err))
			return false;
	}
	for (size_t i = 0; i < cfg->graphics_count; i++) {
		struct virtio_gpu_hooks gh = {.update = gpu_update, .ctx = m};
		struct virtio_gpu *g = virtio_gpu_new(&cfg->graphics[i], &m->mem, (unsigned)i, &gh, err);
		if (!g)
			return false;
		m->gpu[m->ngpu++] = g;
		if (!add_transport(m, virtio_gpu_dev(g), err))
			return false;
		if (!virtio_gpu_start(g))
			return vmk_set_errno(err, VMK_ERR_INTERNAL, "graphics_devices", errno,
					     "graphics_devices[%zu]: cannot watch vram", i);
	}
	return true;
}

void machine_free_devices(struct machine *m)
{
	for (unsigned i = 0; i < m->nnet; i++)
		virtio_net_stop(m->net[i]);
	/* No kick or completion may run while devices go away. */
	evloop_free(m->io);
	m->io = NULL;
	if (m->ps2_tfd >= 0) {
		close(m->ps2_tfd);
		pthread_mutex_destroy(&m->ps2_lock);
	}
	m->ps2_tfd = -1;
	for (unsigned i = 0; i < m->ntransports; i++)
		virtio_pci_free(m->transports[i]);
	m->ntransports = 0;
	for (unsigned i = 0; i < m->nblk; i++)
		virtio_blk_free(m->blk[i]);
	m->nblk = 0;
	for (unsigned i = 0; i < m->nnet; i++)
		virtio_net_free(m->net[i]);
	m->nnet = 0;
	if (m->console)
		virtio_console_free(m->console);
	if (m->rng)
		virtio_rng_free(m->rng);
	if (m->balloon)
		virtio_balloon_free(m->balloon);
	virtio_vsock_free(m->vsock);
	m->vsock = NULL;
	for (unsigned i = 0; i < m->nfs; i++)
		virtio_fs_free(m->fs[i]);
	m->nfs = 0;
	for (unsigned i = 0; i < m->ninput; i++)
		virtio_input_free(m->input[i]);
	m->ninput = 0;
	for (unsigned i = 0; i < m->ngpu; i++)
		virtio_gpu_free(m->gpu[i]);
	m->ngpu = 0;
	m->console = NULL;
	m->rng = NULL;
	m->balloon = NULL;
	pci_host_free(m->pci);
	m->pci = NULL;
}

bool machine_change_storage(struct machine *m, unsigned index, const struct vmk_storage_attachment *a,
			    vmk_error **err)
{
	if (index >= m->nblk)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "index",
				     "no storage device %u (the VM has %u)", index, m->nblk);
	return virtio_blk_change_media(m->blk[index], a, err);
}

bool machine_change_network(struct machine *m, unsigned index, const struct vmk_network_attachment *a,
			    vmk_error **err)
{
	char field[48];

	snprintf(field, sizeof(field), "network_devices[%u].attachment", index);
	if (index >= m->nnet)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field,
				     "%s: no network device %u (the VM has %u)", field, index, m->nnet);
	return virtio_net_change_attachment(m->net[index], a, err);
}

/* The report op makes for device in, or n = 0 when it does not concern it. */
static void input_report(struct virtio_input *in, enum machine_input_op op, int32_t a, int32_t b,
			 struct input_report *r)
{
	static const uint16_t buttons[] = {BTN_LEFT, BTN_RIGHT, BTN_MIDDLE, BTN_SIDE, BTN_EXTRA};
	vmk_input_kind kind = virtio_input_kind(in);
	uint32_t w, h;

	r->n = 0;
	switch (op) {
	case MINPUT_KEY:
		if (kind == VMK_INPUT_KEYBOARD)
			r->ev[r->n++] = (struct input_ev){EV_KEY, (uint16_t)a, b ? 1 : 0};
		break;
	case MINPUT_POSITION:
		if (kind != VMK_INPUT_SCREEN_POINTER)
			break;
		virtio_input_screen(in, &w, &h);
		r->ev[r->n++] = (struct input_ev){EV_ABS, ABS_X,
						  a < 0		    ? 0
						  : a >= (int32_t)w ? (int32_t)w - 1
								    : a};
		r->ev[r->n++] = (struct input_ev){EV_ABS, ABS_Y,
						  b < 0		    ? 0
						  : b >= (int32_t)h ? (int32_t)h - 1
								    : b};
		break;
	case MINPUT_MOTION:
		if (kind != VMK_INPUT_MOUSE)
			break;
		if (a)
			r->ev[r->n++] = (struct input_ev){EV_REL, REL_X, a};
		if (b)
			r->ev[r->n++] = (struct input_ev){EV_REL, REL_Y, b};
		break;
	case MINPUT_BUTTON:
		if (kind != VMK_INPUT_KEYBOARD)
			r->ev[r->n++] = (struct input_ev){EV_KEY, buttons[a], b ? 1 : 0};
		break;
	case MINPUT_WHEEL:
		if (kind != VMK_INPUT_KEYBOARD)
			r->ev[r->n++] = (struct input_ev){EV_REL, REL_WHEEL, a};
		break;
	}
}

bool machine_input(struct machine *m, enum machine_input_op op, int32_t a, int32_t b, vmk_error **err)
{
	static const char *const wants[] = {"keyboard", "screen-coordinate pointer", "mouse",
					    "pointing device", "pointing device"};
	unsigned sent = 0;

	if (op == MINPUT_KEY && (a <= 0 || a > KEY_MICMUTE))
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "key",
				     "key: %d is not a key code (1 to %d)", a, KEY_MICMUTE);
	if (op == MINPUT_BUTTON && (a < 0 || a > VMK_BUTTON_EXTRA))
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "button", "button: %d is not a button",
				     a);
	if (op == MINPUT_KEY) {
		/* Keys go to the PS/2 keyboard until a virtio keyboard's driver
		 * runs: firmware, boot loaders and early boot read only PS/2. */
		bool virtio_ready = false, virtio_kbd = false;
		for (unsigned i = 0; i < m->ninput; i++)
			if (virtio_input_kind(m->input[i]) == VMK_INPUT_KEYBOARD) {
				virtio_kbd = true;
				virtio_ready = virtio_ready || virtio_input_ready(m->input[i]);
			}
		if (!virtio_ready) {
			bool dummy;
			int r = i8042_reads_keys(m->kbd) ? 0 : -EAGAIN;
			if (r == 0 && i8042_set1_code((uint16_t)a, &dummy) >= 0)
				return ps2_type(m, (uint16_t)a, b, err);
			if (r == 0)
				r = -ENOENT;
			if (!virtio_kbd && r == -ENOENT)
				return vmk_set_error(
				    err, VMK_ERR_NOT_SUPPORTED, "key",
				    "key: %d has no PS/2 key and the VM has no virtio keyboard", a);
			if (!virtio_kbd)
				return vmk_set_error(
				    err, VMK_ERR_NOT_SUPPORTED, "key",
				    "key: the guest reads no keyboard now (PS/2 off, no virtio keyboard)");
			/* A virtio keyboard queues it for its driver. */
		}
	}
	for (unsigned i = 0; i < m->ninput; i++) {
		struct input_report r;
		input_report(m->input[i], op, a, b, &r);
		if (!r.n) {
			/* A motion of 0,0 is no report, but it did reach a mouse. */
			sent += op == MINPUT_MOTION && virtio_input_kind(m->input[i]) == VMK_INPUT_MOUSE;
			continue;
		}
		if (!virtio_input_send(m->input[i], &r, err))
			return false;
		sent++;
	}
	if (!sent)
		return vmk_set_error(err, VMK_ERR_NOT_SUPPORTED, "input_devices",
				     "input_devices: the VM has no %s", wants[op]);
	return true;
}

static bool gpu_index(struct machine *m, unsigned device, vmk_error **err)
{
	if (device < m->ngpu)
		return true;
	return vmk_set_error(err, m->ngpu ? VMK_ERR_INVALID_ARGUMENT : VMK_ERR_NOT_SUPPORTED,
			     "graphics_devices", "graphics_devices: no graphics device %u (the VM has %u)",
			     device, m->ngpu);
}

bool machine_copy_frame(struct machine *m, unsigned device, unsigned scanout, vmk_frame **out,
			vmk_error **err)
{
	return gpu_index(m, device, err) && virtio_gpu_copy_frame(m->gpu[device], scanout, out, err);
}

bool machine_copy_frame_rect(struct machine *m, unsigned device, unsigned scanout, const vmk_rect *rect,
			     vmk_frame *into, vmk_error **err)
{
	return gpu_index(m, device, err) &&
	       virtio_gpu_copy_frame_rect(m->gpu[device], scanout, rect, into, err);
}

bool machine_copy_cursor(struct machine *m, unsigned device, vmk_cursor **out, vmk_error **err)
{
	return gpu_index(m, device, err) && virtio_gpu_copy_cursor(m->gpu[device], out, err);
}

bool machine_reconfigure_display(struct machine *m, unsigned device, unsigned scanout, uint32_t w, uint32_t h,
				 vmk_error **err)
{
	return gpu_index(m, device, err) && virtio_gpu_reconfigure(m->gpu[device], scanout, w, h, err);
}

bool machine_balloon_set_target(struct machine *m, uint64_t bytes, vmk_error **err)
{
	if (!m->balloon)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "balloon",
				     "the VM has no memory balloon");
	return virtio_balloon_set_target(m->balloon, bytes, err);
}

bool machine_balloon_stats(struct machine *m, vmk_balloon_stats *st, vmk_error **err)
{
	if (!m->balloon)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "balloon",
				     "the VM has no memory balloon");
	return virtio_balloon_get_stats(m->balloon, st, err);
}
