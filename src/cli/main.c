/* vmkit: run a virtual machine from the command line. Builds the
 * configuration through the public API only, like any other application,
 * then relays signals and terminal input until the guest stops. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "view/sdl.h"
#include "view/vnc.h"

#define MiB (1024ull * 1024)

struct session {
	vmk_vm *vm;
	int sig_fd;
	int wake[2];	       /* observer -> main loop */
	int serial_in[2];      /* stdin -> the stdio port's read_fd */
	bool forward;	       /* stdin is still being forwarded */
	bool raw;	       /* stdin is a terminal we put in raw mode */
	int signals;	       /* SIGINT/SIGTERM/SIGHUP received */
	double grace_end;      /* monotonic seconds: force the stop then (0: none) */
	uint8_t pending[8192]; /* input the guest has not taken yet */
	size_t pending_len;
	struct term_escape escape;
	struct rest_server *rest;
	struct view_hub hub;
	struct vnc_server *vnc;
	struct sdl_view *gui;
	atomic_bool gui_closed; /* the window's close button: a stop request */
	struct timesync *timesync;
	vmk_state last_state; /* VM event thread: a resume is RESUMING then RUNNING */
};

static void print_errors(const vmk_error *err)
{
	for (; err; err = vmk_error_next(err))
		fprintf(stderr, "vmkit: %s\n", vmk_error_get_message(err));
}

/* Observer callbacks run on the VM's thread: only poke the main loop. */
static void wake_main(void *ctx)
{
	struct session *s = ctx;
	ssize_t r = write(s->wake[1], "", 1);

	(void)r; /* a full pipe already holds a wake-up */
}

static void on_state(vmk_vm *vm, vmk_state state, void *ctx)
{
	struct session *s = ctx;

	(void)vm;
	if (state == VMK_STATE_STOPPED || state == VMK_STATE_ERROR)
		wake_main(ctx);
	/* The guest's clock stood still while paused: --timesync sets it. */
	if (state == VMK_STATE_RUNNING && s->last_state == VMK_STATE_RESUMING)
		timesync_kick(s->timesync);
	s->last_state = state;
}

static void on_stop(vmk_vm *vm, vmk_stop_reason reason, void *ctx)
{
	(void)vm;
	(void)reason;
	wake_main(ctx);
}

static void on_stop_error(vmk_vm *vm, vmk_stop_reason reason, const vmk_error *err, void *ctx)
{
	(void)err;
	on_stop(vm, reason, ctx);
}

/* The guest sees link down and the VM keeps running; the user should know
 * why the network went quiet. */
static void on_net_disconnected(vmk_vm *vm, unsigned index, void *ctx)
{
	(void)vm;
	(void)ctx;
	fprintf(stderr,
		"vmkit: network device %u lost its attachment (peer gone or interface removed); "
		"the guest sees link down\n",
		index);
}

static bool add_serial(vmk_config *cfg, const struct cli_serial *cs, struct session *s)
{
	vmk_serial_attachment *a;
	vmk_serial_port *port = NULL;
	vmk_error *err = NULL;
	bool ok = false;

	if (cs->stdio) {
		if (pipe2(s->serial_in, O_CLOEXEC) != 0) {
			fprintf(stderr, "vmkit: serial,stdio: pipe: %s\n", strerror(errno));
			return false;
		}
		/* Non-blocking so a guest that stops reading never stalls signal handling. */
		fcntl(s->serial_in[1], F_SETFL, O_NONBLOCK);
		a = vmk_serial_fd_attachment_new(s->serial_in[0], STDOUT_FILENO, &err);
		/* The attachment holds its own duplicate of the read end. */
		close(s->serial_in[0]);
		s->serial_in[0] = -1;
		s->forward = true;
	} else {
		a = vmk_serial_file_attachment_new(cs->log_path, cs->append);
	}
	if (a)
		port = vmk_serial_port_new(
		    cs->virtio ? VMK_SERIAL_PORT_VIRTIO_CONSOLE : VMK_SERIAL_PORT_16550, a);
	if (port)
		ok = vmk_config_add_serial_port(cfg, port, &err);
	else if (!err)
		fprintf(stderr, "vmkit: serial port: out of memory\n");
	print_errors(err);
	vmk_error_free(err);
	vmk_serial_port_free(port);
	vmk_serial_attachment_free(a);
	return ok;
}

static bool add_disk(vmk_config *cfg, const struct cli_disk *cd)
{
	vmk_storage_attachment *a;
	vmk_storage_device *dev = NULL;
	vmk_error *err = NULL;
	bool ok = false;

	a = cd->blockdev ? vmk_block_device_attachment_new(cd->path, cd->read_only, &err)
			 : vmk_disk_image_attachment_new(cd->path, cd->read_only, &err);
	if (a) {
		vmk_disk_attachment_set_caching_mode(a, cd->cache);
		vmk_disk_attachment_set_sync_mode(a, cd->sync);
		dev = vmk_virtio_block_device_new(a);
	}
	if (dev && (!cd->id || vmk_virtio_block_device_set_identifier(dev, cd->id, &err)) &&
	    vmk_virtio_block_device_set_num_queues(dev, cd->queues, &err))
		ok = vmk_config_add_storage_device(cfg, dev, &err);
	else if (a && !dev)
		fprintf(stderr, "vmkit: virtio-blk: out of memory\n");
	print_errors(err);
	vmk_error_free(err);
	vmk_storage_device_free(dev);
	vmk_storage_attachment_free(a);
	return ok;
}

/* vfkit's unixSocketPath: our own datagram socket, bound (to an abstract
 * address the kernel picks, so nothing is left on disk) so the peer can
 * answer, and connected to PATH. */
/* vfkit's first datagram on a unix path (gvproxy's --listen-vfkit waits for
 * it to learn the VM's address). */
static const char VFKIT_MAGIC[4] = {'V', 'F', 'K', 'T'};

static int connect_unix_dgram(const char *path, bool magic)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, sndbuf = 1 << 20, rcvbuf = 4 << 20;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vmkit: virtio-net: unixSocketPath %s is longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "vmkit: virtio-net: cannot connect to unixSocketPath %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Bursts of full-size frames must not be dropped at the socket. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (magic && send(fd, VFKIT_MAGIC, sizeof(VFKIT_MAGIC), MSG_DONTWAIT) != sizeof(VFKIT_MAGIC)) {
		fprintf(stderr, "vmkit: virtio-net: cannot send vfkit's magic datagram to %s: %s\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static vmk_network_attachment *net_attachment(const struct cli_net *cn, vmk_error **err)
{
	vmk_network_attachment *a = NULL;
	int fd;

	if (cn->tap || cn->bridge) {
		a = cn->tap ? vmk_tap_network_attachment_new(cn->tap, err)
			    : vmk_bridge_network_attachment_new(cn->bridge, err);
		if (a && cn->no_vhost && !vmk_network_attachment_set_vhost(a, false, err)) {
			vmk_network_attachment_free(a);
			return NULL;
		}
		return a;
	}
	if (cn->fd >= 0) {
		a = vmk_fd_network_attachment_new(cn->fd, err);
	} else {
		fd = connect_unix_dgram(cn->unix_path, cn->vfkit_magic);
		if (fd < 0)
			return NULL;
		a = vmk_fd_network_attachment_new(fd, err);
		close(fd);
	}
	if (a && cn->mtu && !vmk_fd_network_attachment_set_mtu(a, cn->mtu, err)) {
		vmk_network_attachment_free(a);
		return NULL;
	}
	return a;
}

static vmk_network_attachment *nat_attachment(const struct cli_net *cn, vmk_error **err)
{
	vmk_network_attachment *a = vmk_nat_network_attachment_new();

	if (!a) {
		fprintf(stderr, "vmkit: virtio-net: out of memory\n");
		return NULL;
	}
	if (cn->subnet && !vmk_nat_network_attachment_set_subnet(a, cn->subnet, err))
		goto fail;
	for (size_t i = 0; i < cn->forward_count; i++) {
		const struct cli_forward *f = &cn->forwards[i];

		if (!vmk_nat_network_attachment_add_port_forward(a, f->proto, f->host_addr, f->host_port,
								 f->guest_port, err))
			goto fail;
	}
	vmk_nat_network_attachment_set_outbound(a, !cn->no_outbound);
	return a;
fail:
	vmk_network_attachment_free(a);
	return NULL;
}

/* Arguments with one tag are one device: a single directory, or (name=) a
 * multiple-directory share. */
static bool add_fs(vmk_config *cfg, const struct cli_options *o)
{
	bool done[CLI_MAX_FS] = {false};
	vmk_error *err = NULL;
	bool ok = true;

	for (size_t i = 0; ok && i < o->fs_count; i++) {
		if (done[i])
			continue;
		vmk_fs_device *dev = vmk_fs_device_new(o->fs[i].tag, &err);
		ok = dev != NULL;
		for (size_t j = i; ok && j < o->fs_count; j++) {
			const struct cli_fs *f = &o->fs[j];
			if (done[j] || strcmp(f->tag, o->fs[i].tag))
				continue;
			done[j] = true;
			if (j != i && (!f->name || !o->fs[i].name)) {
				fprintf(stderr,
					"vmkit: virtio-fs: mountTag=%s is given to %s and %s; several "
					"directories "
					"under one tag need name=NAME each\n",
					f->tag, o->fs[i].dir, f->dir);
				ok = false;
			} else if (!f->name) {
				ok = vmk_fs_device_set_directory(dev, f->dir, f->read_only, &err);
			} else {
				ok = vmk_fs_device_add_directory(dev, f->name, f->dir, f->read_only, &err);
			}
		}
		ok = ok && vmk_config_add_fs_device(cfg, dev, &err);
		vmk_fs_device_free(dev);
	}
	if (!ok && err)
		print_errors(err);
	vmk_error_free(err);
	return ok;
}

static bool add_vsock(vmk_config *cfg, const struct cli_options *o)
{
	vmk_socket_device *dev = vmk_socket_device_new();
	vmk_error *err = NULL;
	bool ok = dev != NULL;

	if (o->vsock_hybrid)
		ok = vmk_socket_device_set_hybrid_path(dev, o->vsock_hybrid, &err);
	for (size_t i = 0; ok && i < o->vsock_count; i++)
		ok = vmk_socket_device_add_unix_forward(dev, o->vsocks[i].port, o->vsocks[i].path,
							o->vsocks[i].host_to_guest
							    ? VMK_SOCKET_FORWARD_HOST_TO_GUEST
							    : VMK_SOCKET_FORWARD_GUEST_TO_HOST,
							&err);
	ok = ok && vmk_config_add_socket_device(cfg, dev, &err);
	if (!ok) {
		if (err)
			print_errors(err);
		else
			fprintf(stderr, "vmkit: out of memory\n");
	}
	vmk_error_free(err);
	vmk_socket_device_free(dev);
	return ok;
}

static bool add_net(vmk_config *cfg, const struct cli_net *cn)
{
	vmk_network_device *dev = NULL;
	vmk_error *err = NULL;
	bool ok = false;
	vmk_network_attachment *a = cn->nat ? nat_attachment(cn, &err) : net_attachment(cn, &err);

	if (!a)
		goto out;
	dev = vmk_virtio_network_device_new(a);
	if (!dev) {
		fprintf(stderr, "vmkit: virtio-net: out of memory\n");
		goto out;
	}
	if (!cn->mac || vmk_virtio_network_device_set_mac(dev, cn->mac, &err))
		ok = vmk_config_add_network_device(cfg, dev, &err);
out:
	print_errors(err);
	vmk_error_free(err);
	vmk_network_device_free(dev);
	vmk_network_attachment_free(a);
	return ok;
}

static vmk_config *build_config(const struct cli_options *o, struct session *s)
{
	vmk_config *cfg = vmk_config_new();
	vmk_boot_loader *bl =
	    o->efi_vars ? vmk_efi_boot_loader_new(o->efi_vars) : vmk_linux_boot_loader_new(o->kernel);
	vmk_error *err = NULL;

	if (!cfg || !bl) {
		fprintf(stderr, "vmkit: out of memory\n");
		goto fail;
	}
	vmk_config_set_cpu_count(cfg, o->cpus);
	vmk_config_set_memory_size(cfg, o->memory_mib * MiB);
	vmk_config_set_reboot_action(cfg, o->reboot);
	/* vfkit's create is Apple's creatingVariableStoreAt with AllowOverwrite:
	 * a fresh store on every start, replacing one that is there (vmkit
	 * replaces only a variable store, never another file). */
	if (o->efi_vars && o->efi_create && !vmk_efi_variable_store_create(o->efi_vars, NULL, true, &err)) {
		print_errors(err);
		vmk_error_free(err);
		goto fail;
	}
	if (o->efi_firmware)
		vmk_efi_boot_loader_set_firmware(bl, o->efi_firmware);
	if (o->initrd)
		vmk_linux_boot_loader_set_initrd(bl, o->initrd);
	if (o->cmdline)
		vmk_linux_boot_loader_set_cmdline(bl, o->cmdline);
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	bl = NULL;
	for (size_t i = 0; i < o->serial_count; i++)
		if (!add_serial(cfg, &o->serials[i], s))
			goto fail;
	for (size_t i = 0; i < o->disk_count; i++)
		if (!add_disk(cfg, &o->disks[i]))
			goto fail;
	for (size_t i = 0; i < o->net_count; i++)
		if (!add_net(cfg, &o->nets[i]))
			goto fail;
	/* --timesync alone makes the device too, as vfkit's does. */
	if ((o->vsock_count || o->vsock_hybrid || o->timesync_port) && !add_vsock(cfg, o))
		goto fail;
	if (o->fs_count && !add_fs(cfg, o))
		goto fail;
	for (size_t i = 0; i < o->gpu_count; i++) {
		vmk_graphics_device *g = vmk_graphics_device_new();
		vmk_graphics_device_set_vga_compatible(g, !o->gpus[i].no_vga);
		bool ok = g &&
			  vmk_graphics_device_add_scanout(g, o->gpus[i].width, o->gpus[i].height, &err) &&
			  vmk_config_add_graphics_device(cfg, g, &err);
		vmk_graphics_device_free(g);
		if (!ok) {
			print_errors(err);
			vmk_error_free(err);
			goto fail;
		}
	}
	/* A pointing device's screen is the first display unless given. */
	uint32_t sw = o->gpu_count ? o->gpus[0].width : 800, sh = o->gpu_count ? o->gpus[0].height : 600;
	for (size_t i = 0; i < o->input_count; i++) {
		vmk_input_device *in = vmk_input_device_new(o->inputs[i].kind, &err);
		bool sized = o->inputs[i].width || o->inputs[i].height || o->gpu_count;
		bool ok =
		    in &&
		    (o->inputs[i].kind != VMK_INPUT_SCREEN_POINTER || !sized ||
		     vmk_input_device_set_screen_size(in, o->inputs[i].width ? o->inputs[i].width : sw,
						      o->inputs[i].height ? o->inputs[i].height : sh, &err));
		ok = ok && vmk_config_add_input_device(cfg, in, &err);
		vmk_input_device_free(in);
		if (!ok) {
			print_errors(err);
			vmk_error_free(err);
			goto fail;
		}
	}
	if ((o->entropy && !vmk_config_add_entropy_device(cfg, &err)) ||
	    (o->balloon && !vmk_config_add_memory_balloon(cfg, &err))) {
		print_errors(err);
		vmk_error_free(err);
		goto fail;
	}
	return cfg;
fail:
	vmk_boot_loader_free(bl);
	vmk_config_free(cfg);
	return NULL;
}

static bool write_pidfile(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
		fprintf(stderr, "vmkit: --pidfile: cannot write %s: %s\n", path, strerror(errno));
		return false;
	}
	return true;
}

static void stop_now(struct session *s)
{
	vmk_error *err = NULL;

	if (vmk_vm_can_stop(s->vm) && !vmk_vm_stop(s->vm, &err))
		print_errors(err);
	vmk_error_free(err);
}

/* What vfkit gives a guest between a SIGINT/SIGTERM's stop request and
 * pulling the plug (its shutdown handler waits 5 s for the stopped state);
 * its clients send one signal and wait for the process to end. */
#define STOP_GRACE_S 5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A signal or the window's close button: the first asks the guest to power
 * off (stopped after STOP_GRACE_S), the next stops it at once. */
static void ask_stop(struct session *s, const char *what)
{
	vmk_error *err = NULL;

	if (++s->signals > 1) {
		stop_now(s);
		return;
	}
	fprintf(stderr,
		"vmkit: %s: asking the guest to power off (stopped in %d s if it does not, or at once "
		"on a second signal)\n",
		what, STOP_GRACE_S);
	if (!vmk_vm_request_stop(s->vm, &err)) {
		print_errors(err);
		stop_now(s);
	}
	vmk_error_free(err);
	s->grace_end = now_s() + STOP_GRACE_S;
}

static void handle_signal(struct session *s)
{
	struct signalfd_siginfo si;

	if (read(s->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	ask_stop(s, strsignal((int)si.ssi_signo));
}

/* On the window's thread. */
static void on_gui_close(void *ctx)
{
	struct session *s = ctx;

	atomic_store(&s->gui_closed, true);
	wake_main(s);
}

/* Hands buffered input to the guest; keeps what the pipe cannot take now. */
static void flush_input(struct session *s)
{
	ssize_t n = write(s->serial_in[1], s->pending, s->pending_len);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			/* The VM closed its end: nobody reads guest input any more. */
			s->forward = false;
			s->pending_len = 0;
		}
		return;
	}
	memmove(s->pending, s->pending + n, s->pending_len - (size_t)n);
	s->pending_len -= (size_t)n;
}

static void handle_stdin(struct session *s)
{
	uint8_t in[sizeof(s->pending) / 2];
	size_t off = 0;
	ssize_t n = read(STDIN_FILENO, in, sizeof(in));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF: the guest just gets no more input; it keeps running. */
		s->forward = false;
		return;
	}
	if (!s->raw) {
		memcpy(s->pending, in, (size_t)n);
		s->pending_len = (size_t)n;
		return;
	}
	while (off < (size_t)n) {
		enum term_action action;
		size_t used;

		s->pending_len += term_escape_filter(&s->escape, in + off, (size_t)n - off,
						     s->pending + s->pending_len, &used, &action);
		off += used;
		if (action == TERM_QUIT) {
			stop_now(s);
			return;
		}
		if (action == TERM_HELP)
			fputs("\nvmkit: Ctrl-A x  stop the VM and quit\n"
			      "vmkit: Ctrl-A Ctrl-A  send Ctrl-A to the guest\n",
			      stderr);
	}
}

static void event_loop(struct session *s)
{
	while (vmk_vm_wait(s->vm, 0) == VMK_STOP_REASON_NONE) {
		struct pollfd pfd[3] = {
		    {.fd = s->sig_fd, .events = POLLIN},
		    {.fd = s->wake[0], .events = POLLIN},
		    {.fd = -1},
		};

		if (s->forward && s->pending_len)
			pfd[2] = (struct pollfd){.fd = s->serial_in[1], .events = POLLOUT};
		else if (s->forward)
			pfd[2] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		int timeout = -1;
		if (s->grace_end > 0) {
			double left = s->grace_end - now_s();
			if (left <= 0) {
				fprintf(stderr,
					"vmkit: the guest did not power off within %d s: stopping it\n",
					STOP_GRACE_S);
				s->grace_end = 0;
				stop_now(s);
				continue;
			}
			timeout = (int)(left * 1000) + 1;
		}
		if (poll(pfd, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "vmkit: poll: %s\n", strerror(errno));
			stop_now(s);
			return;
		}
		if (pfd[0].revents)
			handle_signal(s);
		if (pfd[1].revents) {
			char drain[64];
			ssize_t r = read(s->wake[0], drain, sizeof(drain));

			(void)r;
			if (atomic_exchange(&s->gui_closed, false))
				ask_stop(s, "window closed");
		}
		if (pfd[2].revents && pfd[2].fd == STDIN_FILENO)
			handle_stdin(s);
		else if (pfd[2].revents)
			flush_input(s);
	}
}

static int exit_status(struct session *s, vmk_stop_reason reason)
{
	switch (reason) {
	case VMK_STOP_REASON_GUEST_POWEROFF:
		return EXIT_POWEROFF;
	case VMK_STOP_REASON_GUEST_REBOOT:
		return EXIT_GUEST_REBOOT;
	case VMK_STOP_REASON_HOST_STOP:
		/* A stop a signal asked for ends normally, as vfkit's does. */
		return s->signals ? EXIT_POWEROFF : EXIT_HOST_STOP;
	case VMK_STOP_REASON_TRIPLE_FAULT:
	case VMK_STOP_REASON_INTERNAL_ERROR:
		fprintf(stderr, "vmkit: the guest crashed (%s)\n", vmk_stop_reason_name(reason));
		print_errors(vmk_vm_get_error(s->vm));
		return EXIT_GUEST_CRASH;
	default:
		fprintf(stderr, "vmkit: the VM stopped (%s)\n", vmk_stop_reason_name(reason));
		print_errors(vmk_vm_get_error(s->vm));
		return EXIT_VMM_ERROR;
	}
}

/* The first screen pointer's screen (what build_config gave it), 0x0 when
 * there is none. */
static void pointer_screen(const struct cli_options *o, uint32_t *w, uint32_t *h)
{
	*w = *h = 0;
	for (size_t i = 0; i < o->input_count; i++)
		if (o->inputs[i].kind == VMK_INPUT_SCREEN_POINTER) {
			*w = o->inputs[i].width ? o->inputs[i].width : o->gpu_count ? o->gpus[0].width : 800;
			*h = o->inputs[i].height ? o->inputs[i].height
			     : o->gpu_count	 ? o->gpus[0].height
						 : 600;
			return;
		}
}

/* Before the VM starts: a port in use or no display leaves nothing running. */
static bool start_views(const struct cli_options *o, struct session *s)
{
	char why[512];
	uint32_t pw, ph;

	view_hub_init(&s->hub, s->vm);
	pointer_screen(o, &pw, &ph);
	if (o->vnc || o->web) {
		const struct vnc_options vo = {
		    .listen = o->vnc,
		    .web = o->web,
		    .web_dir = VMK_NOVNC_DIR,
		    .allow_remote = o->vnc_allow_remote,
		    .password_file = o->vnc_password_file,
		    .width = o->gpus[0].width,
		    .height = o->gpus[0].height,
		    .pointer_width = pw,
		    .pointer_height = ph,
		};
		s->vnc = vnc_start(s->vm, &s->hub, &vo, why, sizeof(why));
		if (!s->vnc) {
			fprintf(stderr, "vmkit: %s\n", why);
			return false;
		}
	}
	if (o->gui) {
		const struct sdl_options so = {
		    .width = o->gpus[0].width,
		    .height = o->gpus[0].height,
		    .pointer_width = pw,
		    .pointer_height = ph,
		    .on_close = on_gui_close,
		    .ctx = s,
		};
		s->gui = sdl_start(s->vm, &s->hub, &so, why, sizeof(why));
		if (!s->gui) {
			fprintf(stderr, "vmkit: --gui: %s\n", why);
			return false;
		}
	}
	return true;
}

static int run(const struct cli_options *o, struct session *s)
{
	const vmk_observer obs = {
	    .state_changed = on_state,
	    .did_stop = on_stop,
	    .did_stop_with_error = on_stop_error,
	    .network_disconnected = on_net_disconnected,
	};
	vmk_error *err = NULL;
	vmk_config *cfg = build_config(o, s);
	int status = EXIT_VMM_ERROR;

	if (!cfg)
		return EXIT_VMM_ERROR;
	if (!vmk_config_validate(cfg, &err) || !(s->vm = vmk_vm_new(cfg, &err))) {
		print_errors(err);
		goto out;
	}
	if (o->pidfile && !write_pidfile(o->pidfile))
		goto out;
	/* Before the observer, which kicks it from the VM's thread. */
	if (o->timesync_port && !(s->timesync = timesync_start(s->vm, o->timesync_port)))
		fprintf(stderr,
			"vmkit: --timesync: cannot start its thread; the guest clock is not synced\n");
	vmk_vm_set_observer(s->vm, &obs, s);
	if (o->rest_uri) {
		/* Before the VM starts: a server that cannot listen leaves nothing running. */
		char why[512], *inspect = cli_inspect_json(o);
		s->rest = rest_start(o->rest_uri, o->rest_allow_remote, s->vm, inspect, why, sizeof(why));
		free(inspect);
		if (!s->rest) {
			fprintf(stderr, "vmkit: --restful-uri: %s\n", why);
			goto out;
		}
	}
	if (!start_views(o, s))
		goto out;
	if (!vmk_vm_start(s->vm, &err)) {
		print_errors(err);
		goto out;
	}
	s->raw = s->forward && isatty(STDIN_FILENO) && term_make_raw(STDIN_FILENO);
	event_loop(s);
	term_restore();
	status = exit_status(s, vmk_vm_wait(s->vm, -1));
out:
	if (s->vm)
		vmk_vm_set_observer(s->vm, NULL, NULL);
	timesync_stop(s->timesync);
	view_hub_stop(&s->hub);
	vnc_stop(s->vnc);
	sdl_stop(s->gui);
	rest_stop(s->rest);
	if (o->pidfile && s->vm)
		unlink(o->pidfile);
	vmk_error_free(err);
	vmk_vm_free(s->vm);
	vmk_config_free(cfg);
	return status;
}

int main(int argc, char **argv)
{
	struct session s = {.sig_fd = -1, .wake = {-1, -1}, .serial_in = {-1, -1}};
	struct cli_options opts;
	sigset_t mask;
	int status;

	if (!cli_parse_args(argc, argv, &opts)) {
		cli_options_free(&opts);
		return EXIT_USAGE;
	}
	if (opts.help || opts.version) {
		if (opts.help)
			cli_usage(stdout);
		else
			/* vfkit's cobra template is "NAME version: VERSION"; crc takes
			 * what lies between the first and second ':' of stdout and
			 * compares it with its pinned vfkit version, so vmkit's own
			 * name and version go before the colon (docs/cli.md). */
			printf("vfkit (vmkit %s) version: v%s\n", vmk_version(), VMK_VFKIT_VERSION);
		cli_options_free(&opts);
		return 0;
	}
	/* Blocked before the VM's threads exist, so they inherit the mask and
	 * every such signal reaches the signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	/* Writes to a closed stdout or input pipe fail with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	s.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (s.sig_fd < 0 || pipe2(s.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		fprintf(stderr, "vmkit: %s\n", strerror(errno));
		cli_options_free(&opts);
		return EXIT_VMM_ERROR;
	}
	status = run(&opts, &s);
	term_restore();
	cli_options_free(&opts);
	return status;
}
