/* Drives one VM through the public API for the integration tests: boots a
 * kernel with its serial console on a pipe, echoes what the guest prints,
 * reacts to marker lines (pause/resume, power button, hard stop) and checks
 * the stop reason. Used by the direct tier (test guests) and the nested
 * tier (the Debian kernel), so both exercise the same API paths.
 *
 * usage: vmkit-api-test --kernel K [--initrd I] [--cmdline C] [--cpus N]
 *        [--memory MiB] [--reboot restart|stop] [--timeout SEC]
 *        [--expect REASON] [--expect-reboots N] [--stop-after-reboots N]
 *        [--entropy 1] [--balloon 1] [--console 16550|virtio]
 *        [--efi VARSTORE --firmware CODE.fd --vars-template VARS.fd] (instead of --kernel;
 *        the store is created from the template unless it exists)
 *        [--disk PATH[,ro][,sync=full|fsync|none][,cache=cached|uncached][,id=ID][,queues=N]]...
 *        more ACTIONs: media:PATH | eject | balloon:MiB | stats | rss | kill |
 *        type:TEXT (key presses, then Enter) | sleep:MS | pattern:SEED (display 0 against
 *        tests/guest/drm_pattern.c's pattern) | screenshot:PATH (PNG of
 *        display 0, with its size and serial on stderr) | display:WxH (reconfigure it)
 *        [--gpu WxH[,novga]] (a virtio-gpu with one scanout; VGA compatible unless novga)
 *        [--on MARKER=ACTION]...  ACTION: request-stop | stop | pause-resume
 *        [--send-after MARKER=TEXT] (types TEXT + newline into the console) */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#define MAX_ON 8

struct on_rule {
	const char *marker;
	const char *action;
	bool done;
};

static atomic_int reboots;
static atomic_int state_changes;

static void obs_state(vmk_vm *vm, vmk_state s, void *ctx)
{
	(void)vm;
	(void)ctx;
	atomic_fetch_add(&state_changes, 1);
	fprintf(stderr, "API state %s\n", vmk_state_name(s));
}

static void obs_reboot(vmk_vm *vm, void *ctx)
{
	(void)vm;
	(void)ctx;
	atomic_fetch_add(&reboots, 1);
	fprintf(stderr, "API did-reboot\n");
}

static void obs_stop(vmk_vm *vm, vmk_stop_reason r, void *ctx)
{
	(void)vm;
	(void)ctx;
	fprintf(stderr, "API did-stop %s\n", vmk_stop_reason_name(r));
}

static void obs_stop_err(vmk_vm *vm, vmk_stop_reason r, const vmk_error *e, void *ctx)
{
	(void)vm;
	(void)ctx;
	fprintf(stderr, "API did-stop-with-error %s: %s\n", vmk_stop_reason_name(r),
		vmk_error_get_message(e));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_errors(const char *what, const vmk_error *e)
{
	for (; e; e = vmk_error_next(e))
		fprintf(stderr, "API error %s: %s [%s] %s\n", what,
			vmk_error_code_name(vmk_error_get_code(e)), vmk_error_get_field(e),
			vmk_error_get_message(e));
}

static bool do_action(vmk_vm *vm, const char *action)
{
	vmk_error *err = NULL;
	bool ok = true;
	fprintf(stderr, "API action %s\n", action);
	if (!strcmp(action, "request-stop")) {
		ok = vmk_vm_request_stop(vm, &err);
	} else if (!strcmp(action, "stop")) {
		ok = vmk_vm_stop(vm, &err);
	} else if (!strcmp(action, "pause-resume")) {
		ok = vmk_vm_pause(vm, &err);
		if (ok && vmk_vm_get_state(vm) != VMK_STATE_PAUSED) {
			fprintf(stderr, "API error: state after pause is %s\n",
				vmk_state_name(vmk_vm_get_state(vm)));
			ok = false;
		}
		if (ok && (vmk_vm_can_pause(vm) || !vmk_vm_can_resume(vm) || !vmk_vm_can_stop(vm))) {
			fprintf(stderr, "API error: can_* wrong while paused\n");
			ok = false;
		}
		usleep(300 * 1000);
		if (ok)
			ok = vmk_vm_resume(vm, &err);
		if (ok && vmk_vm_get_state(vm) != VMK_STATE_RUNNING)
			ok = false;
	} else if (!strncmp(action, "media:", 6) || !strcmp(action, "eject")) {
		vmk_storage_attachment *a = NULL;
		if (action[0] == 'm')
			a = vmk_disk_image_attachment_new(action + 6, false, &err);
		ok = (action[0] == 'e' || a) && vmk_vm_change_storage_attachment(vm, 0, a, &err);
		vmk_storage_attachment_free(a);
	} else if (!strncmp(action, "type:", 5)) {
		/* Keys, not console input: the PS/2 keyboard until a virtio one runs. */
		char line[128];
		snprintf(line, sizeof(line), "%s\n", action + 5);
		ok = vmk_vm_input_type_text(vm, line, &err);
	} else if (!strncmp(action, "balloon:", 8)) {
		ok = vmk_vm_set_balloon_target(vm, strtoull(action + 8, NULL, 10) << 20, &err);
	} else if (!strcmp(action, "stats")) {
		vmk_balloon_stats st;
		ok = vmk_vm_get_balloon_stats(vm, &st, &err);
		if (ok)
			fprintf(stderr,
				"API balloon target=%llu actual=%llu free=%llu total=%llu available=%llu\n",
				(unsigned long long)st.target_bytes, (unsigned long long)st.actual_bytes,
				(unsigned long long)st.free_memory, (unsigned long long)st.total_memory,
				(unsigned long long)st.available_memory);
	} else if (!strcmp(action, "rss")) {
		FILE *f = fopen("/proc/self/status", "r");
		char l[256];
		while (f && fgets(l, sizeof(l), f))
			if (!strncmp(l, "VmRSS:", 6))
				fprintf(stderr, "API %s", l);
		if (f)
			fclose(f);
	} else if (!strncmp(action, "sleep:", 6)) {
		usleep((useconds_t)atoi(action + 6) * 1000);
	} else if (!strncmp(action, "screenshot:", 11)) {
		vmk_frame *f = NULL;
		ok = vmk_vm_copy_frame(vm, 0, 0, &f, &err) && vmk_frame_save_png(f, action + 11, &err);
		if (ok)
			fprintf(stderr, "API frame %ux%u active=%d serial=%llu\n", f->width, f->height,
				f->active, (unsigned long long)f->serial);
		vmk_frame_free(f);
	} else if (!strncmp(action, "pattern:", 8)) {
		/* What tests/guest/drm_pattern.c drew with this seed, pixel for pixel. */
		uint32_t seed = (uint32_t)atoi(action + 8);
		vmk_frame *f = NULL;
		ok = vmk_vm_copy_frame(vm, 0, 0, &f, &err);
		if (ok) {
			unsigned long bad = 0;
			for (uint32_t y = 0; y < f->height; y++)
				for (uint32_t x = 0; x < f->width; x++) {
					const uint8_t *p = f->pixels + (size_t)y * f->stride + 4ull * x;
					uint32_t want = ((x * 7 + seed * 31) & 0xff) |
							((y * 5 + seed) & 0xff) << 8 |
							(((x ^ y) + seed * 17) & 0xff) << 16;
					bad += (uint32_t)(p[0] | p[1] << 8 | p[2] << 16) != want;
				}
			fprintf(stderr, "API pattern seed=%u %ux%u mismatches=%lu\n", seed, f->width,
				f->height, bad);
			/* vmk_vm_copy_frame_rect: a rectangle into our own picture (the rest
			 * untouched), and a picture of another size left alone. */
			uint32_t w = f->width, h = f->height;
			vmk_rect r = {w / 3, h / 4, w / 2, h / 3};
			vmk_frame into = {.width = w, .height = h, .stride = w * 4 + 8};
			into.pixels = malloc((size_t)into.stride * h);
			ok = into.pixels != NULL;
			if (ok) {
				memset(into.pixels, 0xaa, (size_t)into.stride * h);
				ok = vmk_vm_copy_frame_rect(vm, 0, 0, &r, &into, &err);
			}
			if (ok) {
				bad = 0;
				for (uint32_t y = 0; y < h; y++)
					for (uint32_t x = 0; x < w; x++) {
						const uint8_t *p =
						    into.pixels + (size_t)y * into.stride + 4ull * x;
						uint32_t v =
						    p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
						bool in = x >= r.x && x < r.x + r.width && y >= r.y &&
							  y < r.y + r.height;
						bad +=
						    in ? memcmp(p,
								f->pixels + (size_t)y * f->stride + 4ull * x,
								4) != 0
						       : v != 0xaaaaaaaau;
					}
				vmk_frame small = {
				    .width = w - 1, .height = h, .stride = w * 4 + 8, .pixels = into.pixels};
				memset(into.pixels, 0xaa, (size_t)into.stride * h);
				ok = vmk_vm_copy_frame_rect(vm, 0, 0, NULL, &small, &err);
				bad +=
				    ok && (small.width != w || small.height != h || into.pixels[0] != 0xaa);
				fprintf(stderr, "API pattern-rect seed=%u %ux%u mismatches=%lu\n", seed, w, h,
					bad);
			}
			free(into.pixels);
		}
		vmk_frame_free(f);
	} else if (!strncmp(action, "display:", 8)) {
		unsigned w = 0, h = 0;
		ok = sscanf(action + 8, "%ux%u", &w, &h) == 2 &&
		     vmk_vm_reconfigure_display(vm, 0, 0, w, h, &err);
	} else if (!strcmp(action, "kill")) {
		/* The VMM dies the hard way, as in a host crash of the process. */
		raise(SIGKILL);
	} else {
		fprintf(stderr, "API error: unknown action %s\n", action);
		return false;
	}
	if (err)
		print_errors(action, err);
	vmk_error_free(err);
	return ok;
}

/* Runs the rules whose marker appears in line, each once. */
static bool match_rules(vmk_vm *vm, const char *line, struct on_rule *on, unsigned non, struct on_rule *send,
			unsigned nsend, int to_guest)
{
	bool ok = true;
	for (unsigned j = 0; j < non; j++) {
		if (!on[j].done && strstr(line, on[j].marker)) {
			on[j].done = true;
			if (!do_action(vm, on[j].action))
				ok = false;
		}
	}
	for (unsigned j = 0; j < nsend; j++) {
		if (!send[j].done && strstr(line, send[j].marker)) {
			send[j].done = true;
			/* CR: what a terminal's Enter sends; Linux ttys map it, firmware expects it. */
			(void)!write(to_guest, send[j].action, strlen(send[j].action));
			(void)!write(to_guest, "\r", 1);
		}
	}
	return ok;
}

/* PATH[,ro][,sync=..][,cache=..][,id=..] -> a virtio-blk device. */
static bool add_disk(vmk_config *cfg, const char *spec, vmk_error **err)
{
	char *copy = strdup(spec), *save = NULL;
	char *path = strtok_r(copy, ",", &save);
	bool ro = false;
	const char *sync = NULL, *cache = NULL, *id = NULL;
	unsigned queues = 1;
	for (char *t; (t = strtok_r(NULL, ",", &save));) {
		if (!strcmp(t, "ro"))
			ro = true;
		else if (!strncmp(t, "sync=", 5))
			sync = t + 5;
		else if (!strncmp(t, "cache=", 6))
			cache = t + 6;
		else if (!strncmp(t, "id=", 3))
			id = t + 3;
		else if (!strncmp(t, "queues=", 7))
			queues = (unsigned)atoi(t + 7);
	}
	vmk_storage_attachment *a = vmk_disk_image_attachment_new(path, ro, err);
	bool ok = a != NULL;
	if (a && sync)
		vmk_disk_attachment_set_sync_mode(a, !strcmp(sync, "none")    ? VMK_DISK_SYNC_NONE
						     : !strcmp(sync, "fsync") ? VMK_DISK_SYNC_FSYNC
									      : VMK_DISK_SYNC_FULL);
	if (a && cache)
		vmk_disk_attachment_set_caching_mode(a, !strcmp(cache, "uncached") ? VMK_DISK_CACHING_UNCACHED
										   : VMK_DISK_CACHING_CACHED);
	vmk_storage_device *d = a ? vmk_virtio_block_device_new(a) : NULL;
	if (ok && id)
		ok = vmk_virtio_block_device_set_identifier(d, id, err);
	if (ok && queues != 1)
		ok = vmk_virtio_block_device_set_num_queues(d, queues, err);
	if (ok)
		ok = vmk_config_add_storage_device(cfg, d, err);
	vmk_storage_device_free(d);
	vmk_storage_attachment_free(a);
	free(copy);
	return ok;
}

/* "12345678-9abc-..." (dashes anywhere) into 16 bytes; false if not 32 hex digits. */
static bool parse_uuid(const char *s, uint8_t out[16])
{
	unsigned n = 0;
	for (; *s; s++) {
		if (*s == '-')
			continue;
		int v = isdigit((unsigned char)*s)    ? *s - '0'
			: isxdigit((unsigned char)*s) ? (tolower(*s) - 'a' + 10)
						      : -1;
		if (v < 0 || n == 32)
			return false;
		out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
		n++;
	}
	return n == 32;
}

int main(int argc, char **argv)
{
	const char *kernel = NULL, *initrd = NULL, *cmdline = "", *expect = "guest-poweroff";
	const char *efi = NULL, *firmware = NULL, *vars_template = NULL;
	unsigned cpus = 1, mem = 128, timeout = 60;
	uint8_t uuid[16];
	bool have_uuid = false;
	int expect_reboots = -1, stop_after_reboots = -1, entropy = 0, balloon = 0;
	unsigned gpu_w = 0, gpu_h = 0;
	bool gpu_vga = true;
	vmk_serial_port_kind console = VMK_SERIAL_PORT_16550;
	const char *disks[8];
	unsigned ndisks = 0;
	bool stopped_after_reboots = false;
	vmk_reboot_action reboot = VMK_REBOOT_RESTART;
	struct on_rule on[MAX_ON];
	unsigned non = 0;
	struct on_rule send[MAX_ON];
	unsigned nsend = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--kernel"))
			kernel = v;
		else if (!strcmp(k, "--initrd"))
			initrd = v;
		else if (!strcmp(k, "--cmdline"))
			cmdline = v;
		else if (!strcmp(k, "--cpus"))
			cpus = (unsigned)atoi(v);
		else if (!strcmp(k, "--memory"))
			mem = (unsigned)atoi(v);
		else if (!strcmp(k, "--uuid")) {
			if (!(have_uuid = parse_uuid(v, uuid))) {
				fprintf(stderr, "api_test: bad UUID %s\n", v);
				return 2;
			}
		} else if (!strcmp(k, "--timeout"))
			timeout = (unsigned)atoi(v);
		else if (!strcmp(k, "--expect"))
			expect = v;
		else if (!strcmp(k, "--expect-reboots"))
			expect_reboots = atoi(v);
		else if (!strcmp(k, "--efi"))
			efi = v;
		else if (!strcmp(k, "--firmware"))
			firmware = v;
		else if (!strcmp(k, "--vars-template"))
			vars_template = v;
		else if (!strcmp(k, "--console"))
			console =
			    !strcmp(v, "virtio") ? VMK_SERIAL_PORT_VIRTIO_CONSOLE : VMK_SERIAL_PORT_16550;
		else if (!strcmp(k, "--disk") && ndisks < 8)
			disks[ndisks++] = v;
		else if (!strcmp(k, "--entropy"))
			entropy = atoi(v);
		else if (!strcmp(k, "--balloon"))
			balloon = atoi(v);
		else if (!strcmp(k, "--gpu")) {
			if (sscanf(v, "%ux%u", &gpu_w, &gpu_h) != 2)
				return 2;
			gpu_vga = !strstr(v, ",novga");
		} else if (!strcmp(k, "--stop-after-reboots"))
			stop_after_reboots = atoi(v);
		else if (!strcmp(k, "--reboot"))
			reboot = !strcmp(v, "stop") ? VMK_REBOOT_STOP : VMK_REBOOT_RESTART;
		else if ((!strcmp(k, "--on") || !strcmp(k, "--send-after")) && strchr(v, '=')) {
			struct on_rule *r = !strcmp(k, "--on") ? (non < MAX_ON ? &on[non++] : NULL)
							       : (nsend < MAX_ON ? &send[nsend++] : NULL);
			if (!r)
				return 2;
			char *copy = strdup(v), *eq = strchr(copy, '=');
			*eq = 0;
			*r = (struct on_rule){.marker = copy, .action = eq + 1};
		} else {
			fprintf(stderr, "api_test: unknown option %s\n", k);
			return 2;
		}
	}
	if (!kernel && !efi) {
		fprintf(stderr, "api_test: --kernel or --efi is required\n");
		return 2;
	}

	int to_host[2], to_guest[2];
	if (pipe(to_host) < 0 || pipe(to_guest) < 0)
		return 1;
	vmk_error *err = NULL;
	vmk_config *cfg = vmk_config_new();
	vmk_config_set_cpu_count(cfg, cpus);
	vmk_config_set_memory_size(cfg, (uint64_t)mem << 20);
	vmk_config_set_reboot_action(cfg, reboot);
	if (have_uuid)
		vmk_config_set_machine_identifier(cfg, uuid);
	vmk_boot_loader *bl;
	if (efi) {
		if (access(efi, F_OK) != 0 &&
		    !vmk_efi_variable_store_create(efi, vars_template, false, &err)) {
			print_errors("variable store", err);
			return 1;
		}
		bl = vmk_efi_boot_loader_new(efi);
		if (firmware)
			vmk_efi_boot_loader_set_firmware(bl, firmware);
	} else {
		bl = vmk_linux_boot_loader_new(kernel);
		if (initrd)
			vmk_linux_boot_loader_set_initrd(bl, initrd);
		vmk_linux_boot_loader_set_cmdline(bl, cmdline);
	}
	vmk_config_set_boot_loader(cfg, bl);
	if ((entropy && !vmk_config_add_entropy_device(cfg, &err)) ||
	    (balloon && !vmk_config_add_memory_balloon(cfg, &err))) {
		print_errors("devices", err);
		return 1;
	}
	vmk_boot_loader_free(bl);
	if (gpu_w) {
		vmk_graphics_device *gd = vmk_graphics_device_new();
		vmk_graphics_device_set_vga_compatible(gd, gpu_vga);
		bool ok = vmk_graphics_device_add_scanout(gd, gpu_w, gpu_h, &err) &&
			  vmk_config_add_graphics_device(cfg, gd, &err);
		vmk_graphics_device_free(gd);
		if (!ok) {
			print_errors("gpu", err);
			return 1;
		}
	}
	vmk_serial_attachment *att = vmk_serial_fd_attachment_new(to_guest[0], to_host[1], &err);
	for (unsigned i = 0; i < ndisks; i++) {
		if (!add_disk(cfg, disks[i], &err)) {
			print_errors("disk", err);
			return 1;
		}
	}
	vmk_serial_port *port = att ? vmk_serial_port_new(console, att) : NULL;
	if (!port || !vmk_config_add_serial_port(cfg, port, &err)) {
		print_errors("serial", err);
		return 1;
	}
	vmk_serial_port_free(port);
	vmk_serial_attachment_free(att);
	close(to_guest[0]);
	close(to_host[1]);

	double t0 = now();
	vmk_vm *vm = vmk_vm_new(cfg, &err);
	/* The VM owns a copy: changing the configuration now must not matter. */
	vmk_config_set_cpu_count(cfg, 0);
	vmk_config_free(cfg);
	if (!vm) {
		print_errors("vm_new", err);
		vmk_error_free(err);
		return 1;
	}
	vmk_observer obs = {.state_changed = obs_state,
			    .did_stop = obs_stop,
			    .did_stop_with_error = obs_stop_err,
			    .did_reboot = obs_reboot};
	vmk_vm_set_observer(vm, &obs, NULL);
	if (!vmk_vm_start(vm, &err)) {
		print_errors("start", err);
		vmk_error_free(err);
		vmk_vm_free(vm);
		return 1;
	}
	fprintf(stderr, "API started in %.3f s\n", now() - t0);

	char line[4096];
	size_t ll = 0;
	bool failed = false, eof = false;
	while (!eof) {
		if (now() - t0 > timeout) {
			fprintf(stderr, "API timeout after %u s\n", timeout);
			vmk_vm_stop(vm, NULL);
			failed = true;
			break;
		}
		if (stop_after_reboots > 0 && !stopped_after_reboots &&
		    atomic_load(&reboots) >= stop_after_reboots) {
			stopped_after_reboots = true;
			if (!do_action(vm, "stop"))
				failed = true;
		}
		struct pollfd p = {.fd = to_host[0], .events = POLLIN};
		char buf[4096];
		ssize_t n;
		if (poll(&p, 1, 200) <= 0) {
			/* A prompt ("Shell> ", "login: ") ends without a newline:
			 * once the guest has gone quiet, match the partial line. */
			if (ll) {
				line[ll] = 0;
				if (!match_rules(vm, line, on, non, send, nsend, to_guest[1]))
					failed = true;
			}
			vmk_state s = vmk_vm_get_state(vm);
			if (s == VMK_STATE_STOPPED || s == VMK_STATE_ERROR) {
				/* Drain what the guest printed before it stopped. */
				fwrite(line, 1, ll, stdout);
				while (poll(&p, 1, 0) > 0 && (n = read(to_host[0], buf, sizeof(buf))) > 0)
					fwrite(buf, 1, (size_t)n, stdout);
				fflush(stdout);
				eof = true;
			}
			continue;
		}
		n = read(to_host[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\r')
				continue;
			if (buf[i] != '\n' && ll + 1 < sizeof(line)) {
				line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			/* Whole lines only, so observer messages on stderr never split one. */
			fprintf(stdout, "%s\n", line);
			fflush(stdout);
			ll = 0;
			/* Lets a test compare a time the guest printed with the host's. */
			if (strstr(line, "CLOCK=")) {
				struct timespec rt;
				clock_gettime(CLOCK_REALTIME, &rt);
				fprintf(stderr, "API host-clock %lld.%03ld\n", (long long)rt.tv_sec,
					rt.tv_nsec / 1000000);
			}
			if (!match_rules(vm, line, on, non, send, nsend, to_guest[1]))
				failed = true;
		}
	}
	vmk_stop_reason r = vmk_vm_wait(vm, 10000);
	fprintf(stderr, "API stop-reason %s after %.3f s\n", vmk_stop_reason_name(r), now() - t0);
	if (vmk_vm_get_error(vm))
		print_errors("vm", vmk_vm_get_error(vm));
	if (strcmp(vmk_stop_reason_name(r), expect) != 0) {
		fprintf(stderr, "API FAIL: expected stop reason %s, got %s\n", expect,
			vmk_stop_reason_name(r));
		failed = true;
	}
	if (expect_reboots >= 0 && atomic_load(&reboots) != expect_reboots) {
		fprintf(stderr, "API FAIL: expected %d reboots, saw %d\n", expect_reboots,
			atomic_load(&reboots));
		failed = true;
	}
	for (unsigned j = 0; j < non; j++)
		if (!on[j].done) {
			fprintf(stderr, "API FAIL: marker '%s' never seen\n", on[j].marker);
			failed = true;
		}
	vmk_vm_free(vm);
	for (unsigned j = 0; j < non; j++)
		free((char *)on[j].marker);
	for (unsigned j = 0; j < nsend; j++)
		free((char *)send[j].marker);
	return failed ? 1 : 0;
}
