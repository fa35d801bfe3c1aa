/* The run-time socket API (Apple's VZVirtioSocketDevice) against a real
 * guest's vsock driver, through the public API only. The guest
 * (tools/guest/tests/vsock-api.sh, socat) connects to host port 3000, whose
 * listener accepts ("ping" in, "pong" out), and to 3001, whose listener
 * refuses (the guest sees ECONNRESET); it listens on 4000 and the host
 * connects into it (the guest gets "from-host"); the host's connect to 4001,
 * where nothing listens, ends with connection-reset; once the listener of
 * 3000 is removed, the guest's connect there is reset. A listener on a port
 * the configuration forwards is refused before the VM starts.
 *
 * usage: vmkit-vsock-api --kernel K --initrd I --forward PATH [--cmdline C] [--timeout SEC]
 * The guest gets C (plus nothing else: C must select vmkit.test=vsock-api).
 * Prints the guest's console and HOST-* lines; exit 0 when every host-side
 * step happened and the guest powered off with VMKIT-TEST-EXIT=0. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

/* Callbacks (VM event thread) hand their results to the main loop. */
static int accepted[2], connected[2];

struct conn_result {
	int fd;
	vmk_error_code code;
};

static bool accept_3000(vmk_vm *vm, int fd, uint32_t port, uint32_t guest_port, void *ctx)
{
	(void)vm;
	(void)ctx;
	printf("HOST-ACCEPT port=%u guest_port=%u\n", port, guest_port);
	return write(accepted[1], &fd, sizeof(fd)) == sizeof(fd);
}

static bool refuse_3001(vmk_vm *vm, int fd, uint32_t port, uint32_t guest_port, void *ctx)
{
	(void)vm;
	(void)fd;
	(void)ctx;
	printf("HOST-REFUSE port=%u guest_port=%u\n", port, guest_port);
	return false;
}

static void on_connect(vmk_vm *vm, int fd, const vmk_error *err, void *ctx)
{
	struct conn_result r = {.fd = fd, .code = err ? vmk_error_get_code(err) : VMK_ERR_NONE};

	(void)vm;
	(void)ctx;
	if (err)
		printf("HOST-CONNECT-ERROR %s: %s\n", vmk_error_code_name(r.code),
		       vmk_error_get_message(err));
	if (write(connected[1], &r, sizeof(r)) != sizeof(r) && fd >= 0)
		close(fd);
}

static void print_errors(const char *what, const vmk_error *e)
{
	for (; e; e = vmk_error_next(e))
		printf("HOST-ERROR %s: %s\n", what, vmk_error_get_message(e));
}

static vmk_vm *build(const char *kernel, const char *initrd, const char *cmdline, const char *fwd, int *out,
		     int *in)
{
	int to_host[2], to_guest[2];
	vmk_error *err = NULL;
	vmk_vm *vm = NULL;

	if (pipe(to_host) < 0 || pipe(to_guest) < 0)
		return NULL;
	vmk_config *cfg = vmk_config_new();
	vmk_config_set_cpu_count(cfg, 1);
	vmk_config_set_memory_size(cfg, 256ull << 20);
	vmk_boot_loader *bl = vmk_linux_boot_loader_new(kernel);
	vmk_linux_boot_loader_set_initrd(bl, initrd);
	vmk_linux_boot_loader_set_cmdline(bl, cmdline);
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	vmk_serial_attachment *sa = vmk_serial_fd_attachment_new(to_guest[0], to_host[1], &err);
	vmk_serial_port *port = sa ? vmk_serial_port_new(VMK_SERIAL_PORT_16550, sa) : NULL;
	vmk_socket_device *sd = vmk_socket_device_new();
	if (port && vmk_config_add_serial_port(cfg, port, &err) &&
	    vmk_socket_device_add_unix_forward(sd, 1025, fwd, VMK_SOCKET_FORWARD_GUEST_TO_HOST, &err) &&
	    vmk_config_add_socket_device(cfg, sd, &err))
		vm = vmk_vm_new(cfg, &err);
	print_errors("build", err);
	vmk_error_free(err);
	vmk_socket_device_free(sd);
	vmk_serial_port_free(port);
	vmk_serial_attachment_free(sa);
	vmk_config_free(cfg);
	close(to_guest[0]);
	close(to_host[1]);
	*out = to_host[0];
	*in = to_guest[1];
	return vm;
}

/* Reads one line from fd within 20 s (the accepted connection's "ping"). */
static bool read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20000) != 1 || read(fd, buf + got, 1) != 1)
			return false;
		if (buf[got++] == '\n')
			break;
	}
	buf[got] = 0;
	return true;
}

int main(int argc, char **argv)
{
	const char *kernel = NULL, *initrd = NULL, *fwd = NULL,
		   *cmdline = "console=ttyS0 vmkit.test=vsock-api";
	int timeout = 600, out, in, steps = 0;
	char line[4096];
	size_t ll = 0;
	vmk_error *err = NULL;
	bool guest_ok = false;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--kernel"))
			kernel = argv[i + 1];
		else if (!strcmp(argv[i], "--initrd"))
			initrd = argv[i + 1];
		else if (!strcmp(argv[i], "--forward"))
			fwd = argv[i + 1];
		else if (!strcmp(argv[i], "--cmdline"))
			cmdline = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout = atoi(argv[i + 1]);
	}
	if (!kernel || !initrd || !fwd) {
		fprintf(stderr,
			"usage: vmkit-vsock-api --kernel K --initrd I --forward PATH [--cmdline C]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe2(accepted, O_CLOEXEC) != 0 || pipe2(connected, O_CLOEXEC) != 0)
		return 1;
	vmk_vm *vm = build(kernel, initrd, cmdline, fwd, &out, &in);
	if (!vm)
		return 1;
	if (!vmk_vm_socket_set_listener(vm, 1025, accept_3000, NULL, &err) &&
	    vmk_error_get_code(err) == VMK_ERR_SOCKET_DEVICE)
		printf("HOST-LISTEN-FORWARDED=refused\n");
	print_errors("listen 1025 (expected)", err);
	vmk_error_free(err);
	err = NULL;
	if (!vmk_vm_socket_set_listener(vm, 3000, accept_3000, NULL, &err) ||
	    !vmk_vm_socket_set_listener(vm, 3001, refuse_3001, NULL, &err) || !vmk_vm_start(vm, &err)) {
		print_errors("start", err);
		return 1;
	}
	time_t end = time(NULL) + timeout;
	while (time(NULL) < end && vmk_vm_wait(vm, 0) == VMK_STOP_REASON_NONE) {
		struct pollfd p[3] = {{out, POLLIN, 0}, {accepted[0], POLLIN, 0}, {connected[0], POLLIN, 0}};
		if (poll(p, 3, 500) <= 0)
			continue;
		if (p[1].revents) {
			int fd;
			char buf[64];
			if (read(accepted[0], &fd, sizeof(fd)) == sizeof(fd)) {
				if (read_line(fd, buf, sizeof(buf)) && !strcmp(buf, "ping\n") &&
				    write(fd, "pong\n", 5) == 5)
					printf("HOST-ACCEPTED=ping\n"), steps++;
				close(fd);
			}
		}
		if (p[2].revents) {
			struct conn_result r;
			if (read(connected[0], &r, sizeof(r)) == sizeof(r)) {
				if (r.fd >= 0) {
					if (write(r.fd, "from-host\n", 10) == 10)
						printf("HOST-CONNECTED=ok\n"), steps++;
					close(r.fd);
				} else {
					printf("HOST-CONNECT-4001=%s\n", vmk_error_code_name(r.code));
					steps += r.code == VMK_ERR_CONNECTION_RESET;
				}
			}
		}
		if (!p[0].revents)
			continue;
		ssize_t n = read(out, line + ll, sizeof(line) - 1 - ll);
		if (n <= 0)
			break;
		ll += (size_t)n;
		char *nl;
		while ((nl = memchr(line, '\n', ll))) {
			*nl = 0;
			printf("%s\n", line);
			if (strstr(line, "API-GUEST-LISTENING") &&
			    !vmk_vm_socket_connect(vm, 4000, on_connect, NULL, &err))
				print_errors("connect 4000", err);
			if (strstr(line, "API-GUEST-NOLISTEN") &&
			    !vmk_vm_socket_connect(vm, 4001, on_connect, NULL, &err))
				print_errors("connect 4001", err);
			if (strstr(line, "API-WAIT-REMOVE")) {
				if (vmk_vm_socket_remove_listener(vm, 3000, &err))
					printf("HOST-REMOVED=ok\n"), steps++;
				print_errors("remove", err);
				if (write(in, "go\n", 3) != 3)
					printf("HOST-ERROR cannot write to the guest\n");
			}
			if (strstr(line, "VMKIT-TEST-EXIT=0"))
				guest_ok = true;
			vmk_error_free(err);
			err = NULL;
			ll -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, ll);
			if (ll == sizeof(line) - 1)
				ll = 0;
		}
	}
	vmk_stop_reason why = vmk_vm_wait(vm, 30000);
	printf("HOST-STOP=%s HOST-STEPS=%d\n", vmk_stop_reason_name(why), steps);
	vmk_vm_free(vm);
	return guest_ok && steps == 4 && why == VMK_STOP_REASON_GUEST_POWEROFF ? 0 : 1;
}
