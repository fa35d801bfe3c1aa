/* Two VMs on a LAN made of one socketpair, through the public API only (the
 * file-handle attachment, Apple's VZFileHandleNetworkDeviceAttachment): no
 * host networking at all. Each guest's serial console goes to stdout with a
 * prefix ("A| ", "B| "). The guests (tools/guest/tests/net-pair.sh) ping
 * each other and copy a file both ways. Then transmit backpressure: once B's
 * receiver is ready (UDPBURST-READY) and A waits (PAIR-a-BURST-WAIT-GO), B
 * is paused and A told "go" on its console; A sends a burst of datagrams B
 * cannot take, and B is resumed once A's sender is stuck (UDPBURST-WAITING:
 * A's vmkit holds the frames) or finished (they went somewhere: dropped),
 * or after 60 s. B must count every datagram. Once both print PAIR-<x>-DONE, B is
 * stopped and freed, which closes the last descriptor of its socket end. A
 * keeps sending, sees its link go down and powers off: A's observer must
 * report network_disconnected while A still runs.
 * Then the attachment changes (vmk_vm_change_network_attachment): first the
 * calls that must fail (no device 1, an MTU the guest did not read, a TAP
 * attachment that cannot open, a VM not started), then, with A paused, A
 * is plugged into a new socketpair whose other end is a third VM, C; A sees
 * carrier, pings C and fetches its file. Then A's cable is pulled (NULL)
 * and A sees carrier 0. With --bridge BR, A is then plugged into bridge BR
 * (a new TAP, vhost-net when /dev/vhost-net opens) and fetches data.bin
 * from 10.0.9.254, then into a second new TAP (vhost to vhost) and fetches
 * it again, then its cable is pulled. None of these may reach A's observer
 * as a disconnect; on a seqpacket pair C's does hear one when A's cable is
 * pulled (A's socket end really closed).
 *
 * usage: vmkit-net-pair --kernel K --initrd I [--cmdline C] [--memory MiB]
 *        [--timeout SEC] [--socket dgram|seqpacket] [--mtu N]
 *        [--bridge BR]
 * A seqpacket peer's close is seen at once (EOF), a datagram one's only on
 * the next send.
 * The guests get C plus "vmkit.pair=a|b". Exit 0 when A powered off by
 * itself after its disconnect was reported and B was stopped by the host. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

struct side {
	const char *name; /* "A", "B" */
	const char *mac;
	vmk_vm *vm;
	int out;   /* read end of the guest's serial output */
	int in;	   /* write end of its input, kept open so input never ends */
	bool done; /* the guest printed PAIR-<x>-DONE */
	bool burst_ready, burst_wait_go, burst_stuck, burst_sent;
	/* The attachment-change phases. */
	bool swap_wait, swap_done, unplugged, ready, bridge_done, bridge2_done;
	bool stopped; /* STOPPED or ERROR seen */
	char line[4096];
	size_t ll;
	atomic_int disconnects;
	atomic_int state_at_disconnect;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_errors(const char *who, const char *what, const vmk_error *e)
{
	for (; e; e = vmk_error_next(e))
		printf("API %s error %s: %s [%s] %s\n", who, what, vmk_error_code_name(vmk_error_get_code(e)),
		       vmk_error_get_field(e), vmk_error_get_message(e));
}

static void obs_state(vmk_vm *vm, vmk_state s, void *ctx)
{
	struct side *sd = ctx;
	(void)vm;
	printf("API %s state %s\n", sd->name, vmk_state_name(s));
}

static void obs_stop(vmk_vm *vm, vmk_stop_reason r, void *ctx)
{
	struct side *sd = ctx;
	(void)vm;
	printf("API %s did-stop %s\n", sd->name, vmk_stop_reason_name(r));
}

static void obs_stop_err(vmk_vm *vm, vmk_stop_reason r, const vmk_error *e, void *ctx)
{
	struct side *sd = ctx;
	(void)vm;
	printf("API %s did-stop-with-error %s: %s\n", sd->name, vmk_stop_reason_name(r),
	       vmk_error_get_message(e));
}

static void obs_net(vmk_vm *vm, unsigned index, void *ctx)
{
	struct side *sd = ctx;
	vmk_state s = vmk_vm_get_state(vm);

	atomic_store(&sd->state_at_disconnect, (int)s);
	atomic_fetch_add(&sd->disconnects, 1);
	printf("API %s network-disconnected index=%u state=%s\n", sd->name, index, vmk_state_name(s));
}

/* One VM: Linux boot loader, serial on pipes, one virtio-net on fd. */
static bool build(struct side *sd, int fd, const char *kernel, const char *initrd, const char *cmdline,
		  unsigned mem, unsigned mtu)
{
	int to_host[2], to_guest[2];
	char cl[2048];
	vmk_error *err = NULL;
	bool ok = false;

	if (pipe(to_host) < 0 || pipe(to_guest) < 0)
		return false;
	snprintf(cl, sizeof(cl), "%s vmkit.pair=%c", cmdline, tolower(sd->name[0]));
	vmk_config *cfg = vmk_config_new();
	vmk_config_set_cpu_count(cfg, 1);
	vmk_config_set_memory_size(cfg, (uint64_t)mem << 20);
	vmk_boot_loader *bl = vmk_linux_boot_loader_new(kernel);
	vmk_linux_boot_loader_set_initrd(bl, initrd);
	vmk_linux_boot_loader_set_cmdline(bl, cl);
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	vmk_serial_attachment *sa = vmk_serial_fd_attachment_new(to_guest[0], to_host[1], &err);
	vmk_serial_port *port = sa ? vmk_serial_port_new(VMK_SERIAL_PORT_16550, sa) : NULL;
	vmk_network_attachment *na = sa ? vmk_fd_network_attachment_new(fd, &err) : NULL;
	if (na && mtu && !vmk_fd_network_attachment_set_mtu(na, mtu, &err)) {
		vmk_network_attachment_free(na);
		na = NULL;
	}
	vmk_network_device *nd = na ? vmk_virtio_network_device_new(na) : NULL;
	if (port && nd && vmk_config_add_serial_port(cfg, port, &err) &&
	    vmk_virtio_network_device_set_mac(nd, sd->mac, &err) &&
	    vmk_config_add_network_device(cfg, nd, &err))
		sd->vm = vmk_vm_new(cfg, &err);
	/* Every copy of the socket but the VM's is closed here, so freeing
	 * the VM is what closes its end. */
	vmk_network_device_free(nd);
	vmk_network_attachment_free(na);
	vmk_serial_port_free(port);
	vmk_serial_attachment_free(sa);
	vmk_config_free(cfg);
	close(to_guest[0]);
	close(to_host[1]);
	sd->out = to_host[0];
	fcntl(sd->out, F_SETFL, O_NONBLOCK);
	sd->in = to_guest[1];
	if (sd->vm) {
		vmk_observer obs = {.state_changed = obs_state,
				    .did_stop = obs_stop,
				    .did_stop_with_error = obs_stop_err,
				    .network_disconnected = obs_net};
		vmk_vm_set_observer(sd->vm, &obs, sd);
		ok = true;
	}
	if (err)
		print_errors(sd->name, "build", err);
	vmk_error_free(err);
	return ok;
}

/* Echoes whole lines with the VM's prefix and notes its done marker; flush
 * also prints a last partial line. The read end is non-blocking. */
static void pump(struct side *sd, bool flush)
{
	char buf[4096], done[32];
	ssize_t n;

	snprintf(done, sizeof(done), "PAIR-%c-DONE", tolower(sd->name[0]));
	while ((n = read(sd->out, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\r')
				continue;
			if (buf[i] != '\n' && sd->ll + 1 < sizeof(sd->line)) {
				sd->line[sd->ll++] = buf[i];
				continue;
			}
			sd->line[sd->ll] = 0;
			printf("%s| %s\n", sd->name, sd->line);
			if (strstr(sd->line, done))
				sd->done = true;
			sd->burst_ready |= strstr(sd->line, "UDPBURST-READY") != NULL;
			sd->burst_wait_go |= strstr(sd->line, "BURST-WAIT-GO") != NULL;
			sd->burst_stuck |= strstr(sd->line, "UDPBURST-WAITING") != NULL;
			sd->burst_sent |= strstr(sd->line, "UDPBURST-SENT") != NULL;
			sd->swap_wait |= strstr(sd->line, "PAIR-a-SWAP-WAIT") != NULL;
			sd->swap_done |= strstr(sd->line, "PAIR-a-SWAP-DONE") != NULL;
			sd->unplugged |= strstr(sd->line, "PAIR-a-UNPLUGGED") != NULL;
			sd->ready |= strstr(sd->line, "PAIR-c-READY") != NULL;
			sd->bridge_done |= strstr(sd->line, "PAIR-a-BRIDGE-DONE") != NULL;
			sd->bridge2_done |= strstr(sd->line, "PAIR-a-BRIDGE2-DONE") != NULL;
			sd->ll = 0;
		}
	}
	if (flush && sd->ll) {
		sd->line[sd->ll] = 0;
		printf("%s| %s\n", sd->name, sd->line);
		sd->ll = 0;
	}
}

/* The burst: pauses B and lets A send, then resumes B once A's sender is
 * stuck or done. */
static void burst_step(struct side *a, struct side *b, bool *failed)
{
	static int phase; /* 0 waiting for both, 1 B paused, 2 over */
	static double t_pause;
	vmk_error *err = NULL;

	if (phase == 0 && a->burst_wait_go && b->burst_ready) {
		if (!vmk_vm_pause(b->vm, &err)) {
			print_errors(b->name, "pause", err);
			*failed = true;
		}
		t_pause = now();
		printf("API B paused for the burst\n");
		/* The guest's console reads it (tty line discipline). */
		if (write(a->in, "go\n", 3) != 3)
			*failed = true;
		phase = 1;
	} else if (phase == 1 && (a->burst_stuck || a->burst_sent || now() - t_pause > 60)) {
		printf("API B resumed after %.1f s: %s\n", now() - t_pause,
		       a->burst_stuck  ? "A's sender waits (frames held)"
		       : a->burst_sent ? "A's sender finished while B was paused"
				       : "timeout");
		if (!vmk_vm_resume(b->vm, &err)) {
			print_errors(b->name, "resume", err);
			*failed = true;
		}
		phase = 2;
	}
	vmk_error_free(err);
}

/* Stops B and frees it: its socket end closes, A's next send fails. */
static bool retire(struct side *b)
{
	vmk_error *err = NULL;
	bool ok = vmk_vm_stop(b->vm, &err);

	if (err)
		print_errors(b->name, "stop", err);
	vmk_error_free(err);
	vmk_stop_reason r = vmk_vm_wait(b->vm, 10000);
	printf("API %s stop-reason %s\n", b->name, vmk_stop_reason_name(r));
	pump(b, true);
	vmk_vm_free(b->vm);
	b->vm = NULL;
	b->stopped = true;
	close(b->out);
	close(b->in);
	printf("API %s freed: its socket end is closed\n", b->name);
	return ok && r == VMK_STOP_REASON_HOST_STOP;
}

/* A call that must fail with code, its field naming device `index` and
 * its message containing needle. */
static bool refused(const char *what, bool ok, vmk_error *err, vmk_error_code code, unsigned index,
		    const char *needle)
{
	char field[48];
	bool good;

	snprintf(field, sizeof(field), "network_devices[%u].attachment", index);
	good = !ok && err && vmk_error_get_code(err) == code && !strcmp(vmk_error_get_field(err), field) &&
	       strstr(vmk_error_get_message(err), needle);
	printf("API change %s: %s (%s [%s] %s)\n", what, good ? "refused" : "FAIL",
	       err ? vmk_error_code_name(vmk_error_get_code(err)) : "no error",
	       err ? vmk_error_get_field(err) : "", err ? vmk_error_get_message(err) : "");
	vmk_error_free(err);
	return good;
}

static bool change(struct side *sd, vmk_network_attachment *na, const char *what)
{
	vmk_error *err = NULL;
	bool ok = vmk_vm_change_network_attachment(sd->vm, 0, na, &err);

	printf("API %s attachment changed to %s: %s\n", sd->name, what, ok ? "ok" : "FAIL");
	if (err)
		print_errors(sd->name, "change", err);
	vmk_error_free(err);
	return ok;
}

/* How many of this process's descriptors are /dev/vhost-net. */
static int vhost_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[64];
	int n = 0;

	while (d && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t l = readlink(path, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = 0;
			n += !strcmp(target, "/dev/vhost-net");
		}
	}
	if (d)
		closedir(d);
	return n;
}

struct swap_args {
	const char *kernel, *initrd, *cmdline, *bridge;
	unsigned mem, mtu;
	int type;
};

/* The attachment changes on A, driven by A's console markers. */
static void swap_step(struct side *a, struct side *c, const struct swap_args *sa, bool *failed)
{
	static int phase; /* 0 waiting, 1 on C, 2 unplugged, 3 bridge, 4 second TAP, 5 over */
	vmk_error *err = NULL;
	vmk_network_attachment *na;
	int sv[2];

	if (phase == 0 && a->swap_wait) {
		phase = 1;
		if (socketpair(AF_UNIX, sa->type | SOCK_CLOEXEC, 0, sv) < 0 ||
		    !build(c, sv[1], sa->kernel, sa->initrd, sa->cmdline, sa->mem, sa->mtu)) {
			*failed = true;
			return;
		}
		close(sv[1]);
		na = vmk_fd_network_attachment_new(sv[0], &err);
		close(sv[0]);
		if (!na) {
			print_errors(a->name, "attachment", err);
			vmk_error_free(err);
			*failed = true;
			return;
		}
		if (sa->mtu)
			vmk_fd_network_attachment_set_mtu(na, sa->mtu, NULL);
		/* The errors first; A's device must be as it was after each. */
		bool ok = vmk_vm_change_network_attachment(a->vm, 1, na, &err);
		*failed |=
		    !refused("of device 1", ok, err, VMK_ERR_INVALID_ARGUMENT, 1, "no network device 1");
		err = NULL;
		ok = vmk_vm_change_network_attachment(c->vm, 0, na, &err);
		*failed |= !refused("of a VM not started", ok, err, VMK_ERR_INVALID_STATE, 0, "stopped");
		err = NULL;
		vmk_network_attachment *other = vmk_network_attachment_copy(na);
		unsigned bad_mtu = vmk_fd_network_attachment_get_mtu(na) == 1500 ? 9000 : 1500;
		vmk_fd_network_attachment_set_mtu(other, bad_mtu, NULL);
		ok = vmk_vm_change_network_attachment(a->vm, 0, other, &err);
		*failed |= !refused("to another MTU", ok, err, VMK_ERR_NETWORK_ATTACHMENT, 0,
				    "differs from the device's");
		vmk_network_attachment_free(other);
		err = NULL;
		/* lo exists but is no TAP: the open fails as at start. */
		other = vmk_tap_network_attachment_new("lo", NULL);
		ok = other && vmk_vm_change_network_attachment(a->vm, 0, other, &err);
		*failed |=
		    !refused("to a TAP that does not open", ok, err, VMK_ERR_NETWORK_ATTACHMENT, 0, "lo");
		vmk_network_attachment_free(other);
		err = NULL;
		if (!vmk_vm_start(c->vm, &err)) {
			print_errors(c->name, "start", err);
			*failed = true;
		}
		/* Paused: the change is allowed, the guest sees it once resumed. */
		if (!vmk_vm_pause(a->vm, &err) || !change(a, na, "C, while paused") ||
		    !vmk_vm_resume(a->vm, &err))
			*failed = true;
		if (err)
			print_errors(a->name, "pause/resume", err);
		vmk_error_free(err);
		vmk_network_attachment_free(na);
	} else if (phase == 1 && a->swap_done) {
		phase = 2;
		*failed |= !change(a, NULL, "none, cable pulled");
	} else if ((phase == 2 && a->unplugged) || (phase == 3 && a->bridge_done)) {
		phase++;
		if (sa->bridge) {
			na = vmk_bridge_network_attachment_new(sa->bridge, &err);
			if (!na) {
				print_errors(a->name, "bridge attachment", err);
				vmk_error_free(err);
				*failed = true;
				return;
			}
			*failed |= !change(a, na, sa->bridge);
			vmk_network_attachment_free(na);
			printf("API A vhost-net descriptors=%d\n", vhost_fds());
		}
		const char *next = sa->bridge ? "bridge\n" : "end\n";
		if (write(a->in, next, strlen(next)) != (ssize_t)strlen(next))
			*failed = true;
	} else if (phase == 4 && a->bridge2_done) {
		phase = 5;
		*failed |= !change(a, NULL, "none, cable pulled");
		printf("API A vhost-net descriptors=%d\n", vhost_fds());
	}
}

int main(int argc, char **argv)
{
	const char *kernel = NULL, *initrd = NULL, *cmdline = "", *bridge = NULL;
	unsigned mem = 256, timeout = 300, mtu = 0;
	int type = SOCK_DGRAM;
	struct side s[3] = {{.name = "A", .mac = "52:54:00:00:00:0a"},
			    {.name = "B", .mac = "52:54:00:00:00:0b"},
			    {.name = "C", .mac = "52:54:00:00:00:0c", .out = -1, .in = -1}};
	int sv[2];
	bool failed = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--kernel"))
			kernel = v;
		else if (!strcmp(k, "--initrd"))
			initrd = v;
		else if (!strcmp(k, "--cmdline"))
			cmdline = v;
		else if (!strcmp(k, "--memory"))
			mem = (unsigned)atoi(v);
		else if (!strcmp(k, "--timeout"))
			timeout = (unsigned)atoi(v);
		else if (!strcmp(k, "--mtu"))
			mtu = (unsigned)atoi(v);
		else if (!strcmp(k, "--bridge"))
			bridge = v;
		else if (!strcmp(k, "--socket"))
			type = !strcmp(v, "seqpacket") ? SOCK_SEQPACKET : SOCK_DGRAM;
		else {
			fprintf(stderr, "net_pair: unknown option %s\n", k);
			return 2;
		}
	}
	if (!kernel || !initrd) {
		fprintf(stderr, "net_pair: --kernel and --initrd are required\n");
		return 2;
	}
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("net_pair: socketpair");
		return 1;
	}
	for (int i = 0; i < 2; i++)
		if (!build(&s[i], sv[i], kernel, initrd, cmdline, mem, mtu))
			return 1;
	close(sv[0]);
	close(sv[1]);
	double t0 = now();
	for (int i = 0; i < 2; i++) {
		vmk_error *err = NULL;
		if (!vmk_vm_start(s[i].vm, &err)) {
			print_errors(s[i].name, "start", err);
			return 1;
		}
	}
	printf("API both started in %.3f s\n", now() - t0);

	struct side *a = &s[0], *b = &s[1], *c = &s[2];
	struct swap_args sa = {.kernel = kernel,
			       .initrd = initrd,
			       .cmdline = cmdline,
			       .bridge = bridge,
			       .mem = mem,
			       .mtu = mtu,
			       .type = type};
	while (!a->stopped) {
		if (now() - t0 > timeout) {
			printf("API timeout after %u s\n", timeout);
			failed = true;
			for (int i = 0; i < 3; i++)
				if (s[i].vm)
					vmk_vm_stop(s[i].vm, NULL);
			break;
		}
		struct pollfd p[3] = {{.fd = a->out, .events = POLLIN},
				      {.fd = b->stopped ? -1 : b->out, .events = POLLIN},
				      {.fd = c->vm ? c->out : -1, .events = POLLIN}};
		if (poll(p, 3, 200) > 0) {
			for (int i = 0; i < 3; i++)
				if (p[i].revents & (POLLIN | POLLHUP))
					pump(&s[i], false);
		}
		if (!b->stopped)
			burst_step(a, b, &failed);
		swap_step(a, c, &sa, &failed);
		if (a->done && b->done && !b->stopped) {
			printf("API both copies done after %.3f s: stopping B\n", now() - t0);
			if (!retire(b))
				failed = true;
		}
		for (int i = 0; i < 3; i++) {
			vmk_state st = s[i].vm ? vmk_vm_get_state(s[i].vm) : VMK_STATE_STOPPED;
			/* C is built, not started, for a while. */
			if (i == 2 && !c->ready && st == VMK_STATE_STOPPED)
				continue;
			if (s[i].vm && !s[i].stopped && (st == VMK_STATE_STOPPED || st == VMK_STATE_ERROR)) {
				s[i].stopped = true;
				pump(&s[i], true);
				if (i) {
					printf("API FAIL: %s stopped by itself\n", s[i].name);
					failed = true;
				}
			}
		}
	}
	vmk_stop_reason r = vmk_vm_wait(a->vm, 10000);
	printf("API A stop-reason %s after %.3f s\n", vmk_stop_reason_name(r), now() - t0);
	if (r != VMK_STOP_REASON_GUEST_POWEROFF) {
		printf("API FAIL: A did not power off by itself\n");
		failed = true;
	}
	if (atomic_load(&a->disconnects) != 1 ||
	    atomic_load(&a->state_at_disconnect) != (int)VMK_STATE_RUNNING) {
		printf("API FAIL: A's observer saw %d disconnects (want 1, while running)\n",
		       atomic_load(&a->disconnects));
		failed = true;
	}
	if (!b->done || atomic_load(&b->disconnects) != 0) {
		printf("API FAIL: B done=%d disconnects=%d\n", b->done, atomic_load(&b->disconnects));
		failed = true;
	}
	/* C hears A's end close: a seqpacket peer at once, a datagram one
	 * only if it sends afterwards. */
	int cd = atomic_load(&c->disconnects);
	if (!a->unplugged || !c->ready || cd > 1 || (type == SOCK_SEQPACKET && cd != 1)) {
		printf("API FAIL: A unplugged=%d, C ready=%d disconnects=%d\n", a->unplugged, c->ready, cd);
		failed = true;
	}
	if (c->vm && !c->stopped && !retire(c))
		failed = true;
	for (int i = 0; i < 3; i++)
		vmk_vm_free(s[i].vm);
	printf("API pair %s\n", failed ? "FAIL" : "ok");
	return failed ? 1 : 0;
}
