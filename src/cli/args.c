/* Command-line parsing: vfkit's grammar (so podman, crc and minikube
 * command lines work unchanged) plus our extensions, see docs/cli.md.
 * Every usage error is one line on stderr naming the option and value. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "view/view.h"

#define MiB (1024ull * 1024)

enum opt_id {
	OPT_CPUS,
	OPT_MEMORY,
	OPT_BOOTLOADER,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_DEVICE,
	OPT_REBOOT,
	OPT_PIDFILE,
	OPT_LOG_LEVEL,
	OPT_RESTFUL_URI,
	OPT_RESTFUL_ALLOW_REMOTE,
	OPT_VNC,
	OPT_VNC_ALLOW_REMOTE,
	OPT_VNC_PASSWORD_FILE,
	OPT_WEB,
	OPT_GUI,
	OPT_TIMESYNC,
	OPT_HELP,
	OPT_VERSION,
	OPT_UNSUPPORTED, /* vfkit options we do not implement yet */
};

struct option_def {
	char short_name;
	const char *long_name;
	bool has_value;
	enum opt_id id;
};

static const struct option_def options[] = {
    {'c', "cpus", true, OPT_CPUS},
    {'m', "memory", true, OPT_MEMORY},
    {'b', "bootloader", true, OPT_BOOTLOADER},
    {'k', "kernel", true, OPT_KERNEL},
    {'i', "initrd", true, OPT_INITRD},
    {'C', "kernel-cmdline", true, OPT_CMDLINE},
    {'d', "device", true, OPT_DEVICE},
    {0, "reboot", true, OPT_REBOOT},
    {0, "pidfile", true, OPT_PIDFILE},
    {0, "log-level", true, OPT_LOG_LEVEL},
    {0, "restful-uri", true, OPT_RESTFUL_URI},
    {0, "restful-allow-remote", false, OPT_RESTFUL_ALLOW_REMOTE},
    {'h', "help", false, OPT_HELP},
    {'v', "version", false, OPT_VERSION},
    {0, "gui", false, OPT_GUI},
    {0, "vnc", true, OPT_VNC},
    {0, "vnc-allow-remote", false, OPT_VNC_ALLOW_REMOTE},
    {0, "vnc-password-file", true, OPT_VNC_PASSWORD_FILE},
    {0, "web", true, OPT_WEB},
    {'n', "nested", false, OPT_UNSUPPORTED},
    {'t', "timesync", true, OPT_TIMESYNC},
    {0, "ignition", true, OPT_UNSUPPORTED},
    {0, "cloud-init", true, OPT_UNSUPPORTED},
};

/* vfkit device types that vmkit does not emulate yet. */
static const char *const unsupported_devices[] = {
    "nvme",
    "usb-mass-storage",
    "nbd",
};

/* Why a vfkit option is refused, in words a user of a client can act on. */
static const char *unsupported_reason(const char *name)
{
	static const struct {
		const char *name, *why;
	} reasons[] = {
	    {"nested", "not supported: vmkit does not offer hardware virtualization to its guests"},
	    {"ignition", "not supported yet: vmkit does not serve Ignition files (podman serves its own "
			 "through --device virtio-vsock)"},
	    {"cloud-init", "not supported yet: vmkit does not build the cidata ISO (attach one with "
			   "--device virtio-blk,path=ISO,readonly)"},
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(name, reasons[i].name) == 0)
			return reasons[i].why;
	return "not supported yet";
}

__attribute__((format(printf, 1, 2))) static bool usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vmkit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

void cli_usage(FILE *out)
{
	fputs("usage: vmkit [options]\n"
	      "  -c, --cpus N                  virtual CPUs (default 1)\n"
	      "  -m, --memory MiB              memory in MiB (default 512)\n"
	      "  -b, --bootloader linux,kernel=PATH[,initrd=PATH][,cmdline=\"ARGS\"]\n"
	      "  -b, --bootloader efi,variable-store=PATH[,create][,firmware=PATH]\n"
	      "                         UEFI firmware (OVMF) with its variable store; create\n"
	      "                         makes a new store from OVMF's template if none exists;\n"
	      "                         firmware: the code image (default " VMK_EFI_DEFAULT_FIRMWARE ")\n"
	      "  -k, --kernel PATH             legacy: kernel (with -i, -C)\n"
	      "  -i, --initrd PATH             legacy: initial ramdisk\n"
	      "  -C, --kernel-cmdline ARGS     legacy: kernel command line\n"
	      "  -d, --device serial,stdio     16550 COM port on this terminal (Ctrl-A x quits)\n"
	      "  -d, --device serial,logFilePath=PATH[,append]\n"
	      "                                16550 COM port logged to a file\n"
	      "  -d, --device virtio-serial,stdio | virtio-serial,logFilePath=PATH[,append]\n"
	      "                                virtio console port (hvc0, hvc1...)\n"
	      "  -d, --device virtio-blk,path=PATH[,type=image|dev][,readonly][,deviceId=ID]\n"
	      "                 [,cache=auto|cached|uncached][,sync=full|fsync|none][,queues=N]\n"
	      "                                virtio block device on a disk image or block device\n"
	      "  -d, --device virtio-net,nat[,mac=MAC][,hostfwd=tcp|udp:[ADDR]:PORT-:PORT]...\n"
	      "                 [,subnet=CIDR][,outbound=on|off]\n"
	      "                                virtio network device on user-mode NAT (libslirp)\n"
	      "  -d, --device virtio-net,fd=N|unixSocketPath=PATH[,mtu=N][,mac=MAC]\n"
	      "                                on a connected datagram socket (one frame each);\n"
	      "                                also type=unixgram,path=PATH[,vfkitMagic=on|off]\n"
	      "  -d, --device virtio-net,tap=IFNAME|bridge=BR[,vhost=on|off][,mac=MAC]\n"
	      "                                on a TAP device, or a new TAP on a host bridge;\n"
	      "                                vhost-net when /dev/vhost-net opens, unless off\n"
	      "  -d, --device virtio-rng       entropy device fed from the host\n"
	      "  -d, --device virtio-balloon   traditional memory balloon\n"
	      "  -d, --device virtio-vsock,port=N,socketURL=PATH[,listen|connect]\n"
	      "                                host-guest socket: listen (default) joins guest\n"
	      "                                connections to host port N to the unix socket PATH;\n"
	      "                                connect listens on PATH and joins each client to\n"
	      "                                the guest's port N (one device, any number of ports)\n"
	      "  -d, --device virtio-vsock,socketURL=PATH,hybrid\n"
	      "                                Firecracker's hybrid socket: clients of PATH send\n"
	      "                                \"CONNECT <guest port>\\n\"; guest connections to\n"
	      "                                other host ports go to PATH_<port>\n"
	      "  -d, --device virtio-fs,sharedDir=PATH[,mountTag=TAG][,readonly][,name=NAME]\n"
	      "                                share a host directory (mount -t virtiofs TAG);\n"
	      "                                TAG defaults to PATH's base name; several with one\n"
	      "                                TAG and name= share those directories under NAME\n"
	      "  -d, --device virtio-input,keyboard|pointing|mouse[,width=W,height=H]\n"
	      "                                a keyboard, a screen-coordinate pointer (on a\n"
	      "                                W x H screen, default the first display's) or a mouse\n"
	      "  -d, --device virtio-gpu[,width=W,height=H][,vga=on|off]\n"
	      "                                a display of W x H pixels, 64 to 8192 (800x600);\n"
	      "                                the first is also a VGA with a framebuffer unless off\n"
	      "      --reboot restart|stop     what a guest reboot does (default restart)\n"
	      "      --pidfile PATH            write the process id to PATH\n"
	      "      --restful-uri URI         vfkit's REST API (GET/POST /vm/state, GET /vm/inspect)\n"
	      "                                on tcp://HOST:PORT (loopback) or unix:///PATH\n"
	      "      --restful-allow-remote    let --restful-uri listen beyond loopback\n"
	      "      --gui                     show the first display in a window (SDL2); adds a\n"
	      "                                virtio-gpu, keyboard and pointer when there are none\n"
	      "      --vnc HOST:PORT|unix:PATH serve the first display over VNC (loopback only)\n"
	      "      --web HOST:PORT           serve it in a browser (noVNC):\n"
	      "                                http://HOST:PORT/vnc.html?autoconnect=1\n"
	      "      --vnc-password-file PATH  VNC authentication with the file's first line\n"
	      "      --vnc-allow-remote        let --vnc and --web listen beyond loopback\n"
	      "  -t, --timesync vsockPort=N    set the guest's clock through its QEMU guest agent\n"
	      "                                on vsock port N after host sleep and VM resume\n"
	      "  -h, --help                    this text\n"
	      "  -v, --version                 print the version (vfkit's form, see docs/cli.md)\n"
	      "Exit status: 0 guest powered off, 1 vmkit error, 2 usage error,\n"
	      "3 guest rebooted with --reboot stop, 4 guest crashed, 5 stopped from the host.\n",
	      out);
}

/* Keeps a parser-made string alive until cli_options_free(). */
static char *own(struct cli_options *opts, char *s)
{
	char **grown = realloc(opts->owned, (opts->owned_count + 1) * sizeof(*grown));

	if (!grown) {
		free(s);
		return NULL;
	}
	opts->owned = grown;
	opts->owned[opts->owned_count++] = s;
	return s;
}

void cli_options_free(struct cli_options *opts)
{
	for (size_t i = 0; i < opts->owned_count; i++)
		free(opts->owned[i]);
	free(opts->owned);
	opts->owned = NULL;
	opts->owned_count = 0;
}

/* Decimal only: "0x10", " 1", "+1" and "1k" are typos more often than intent. */
static bool parse_number(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] == '-' && s[1] >= '0' && s[1] <= '9')
		return usage_error("%s: \"%s\" must not be negative", opt, s);
	if (!*s)
		return usage_error("%s: \"\" is not a number", opt);
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return usage_error("%s: \"%s\" is not a number", opt, s);
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return usage_error("%s: \"%s\" is too large (at most %llu)", opt, s,
					   (unsigned long long)max);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return true;
}

/* A SPEC: items split on ',', double quotes group (and are removed), so
 * cmdline="console=ttyS0,115200 quiet" stays one item. */
struct spec {
	char *items[32];
	size_t count;
};

static bool split_spec(struct cli_options *opts, const char *opt, const char *s, struct spec *spec)
{
	char *buf = own(opts, malloc(strlen(s) + 1));
	char *w = buf;
	bool quoted = false;

	if (!buf)
		return usage_error("out of memory");
	spec->count = 0;
	spec->items[spec->count++] = w;
	for (const char *p = s; *p; p++) {
		if (*p == '"') {
			quoted = !quoted;
		} else if (*p == ',' && !quoted) {
			*w++ = '\0';
			if (spec->count == sizeof(spec->items) / sizeof(spec->items[0]))
				return usage_error("%s: too many items in \"%s\"", opt, s);
			spec->items[spec->count++] = w;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	if (quoted)
		return usage_error("%s: unterminated quote in \"%s\"", opt, s);
	return true;
}

/* Splits an item on its first '='; *value is NULL for a bare key. */
static char *item_key(char *item, char **value)
{
	char *eq = strchr(item, '=');

	*value = NULL;
	if (eq) {
		*eq = '\0';
		*value = eq + 1;
	}
	return item;
}

static bool parse_bootloader(struct cli_options *opts, const char *opt, const char *s)
{
	struct spec spec;
	const char *type;

	if (!split_spec(opts, opt, s, &spec))
		return false;
	type = spec.items[0];
	if (strcmp(type, "efi") == 0) {
		opts->kernel = opts->initrd = opts->cmdline = NULL;
		opts->efi_vars = opts->efi_firmware = NULL;
		opts->efi_create = false;
		for (size_t i = 1; i < spec.count; i++) {
			char *value;
			const char *key = item_key(spec.items[i], &value);
			if (strcmp(key, "variable-store") == 0 && value && *value)
				opts->efi_vars = value;
			else if (strcmp(key, "create") == 0 && !value)
				opts->efi_create = true;
			else if (strcmp(key, "firmware") == 0 && value && *value)
				opts->efi_firmware = value;
			else
				return usage_error("%s: unknown efi option \"%s\"", opt, spec.items[i]);
		}
		if (!opts->efi_vars)
			return usage_error("%s: efi needs variable-store=PATH", opt);
		return true;
	}
	if (strcmp(type, "macos") == 0)
		return usage_error("%s: macos boots only on macOS hosts, not on Linux", opt);
	if (strcmp(type, "linux") != 0)
		return usage_error("%s: unknown boot loader \"%s\" (expected linux or efi)", opt, type);
	opts->kernel = opts->initrd = opts->cmdline = NULL;
	opts->efi_vars = opts->efi_firmware = NULL;
	for (size_t i = 1; i < spec.count; i++) {
		char *value;
		const char *key = item_key(spec.items[i], &value);
		const char **slot = NULL;

		if (strcmp(key, "kernel") == 0)
			slot = &opts->kernel;
		else if (strcmp(key, "initrd") == 0)
			slot = &opts->initrd;
		else if (strcmp(key, "cmdline") == 0)
			slot = &opts->cmdline;
		else
			return usage_error("%s: unknown linux option \"%s\"", opt, key);
		if (!value || (!*value && slot != &opts->cmdline))
			return usage_error("%s: %s= needs a value", opt, key);
		*slot = value;
	}
	if (!opts->kernel)
		return usage_error("%s: linux needs kernel=PATH", opt);
	return true;
}

/* serial (a 16550) and virtio-serial (a virtio console port) take the same options. */
static bool parse_serial(struct cli_options *opts, const char *opt, struct spec *spec, bool virtio)
{
	struct cli_serial serial = {.virtio = virtio};

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);

		if (strcmp(key, "stdio") == 0 && !value) {
			serial.stdio = true;
		} else if (strcmp(key, "append") == 0 && !value) {
			serial.append = true;
		} else if (strcmp(key, "pty") == 0 && !value) {
			return usage_error("%s: %s,pty is not supported yet (use stdio or logFilePath=PATH)",
					   opt, spec->items[0]);
		} else if (strcmp(key, "logFilePath") == 0) {
			if (!value || !*value)
				return usage_error("%s: logFilePath= needs a path", opt);
			serial.log_path = value;
		} else {
			return usage_error("%s: unknown serial option \"%s\"", opt, spec->items[i]);
		}
	}
	if (serial.stdio == !!serial.log_path)
		return usage_error("%s: %s needs exactly one of stdio or logFilePath=PATH", opt,
				   spec->items[0]);
	if (serial.append && serial.stdio)
		return usage_error("%s: append goes with logFilePath=PATH, not stdio", opt);
	for (size_t i = 0; serial.stdio && i < opts->serial_count; i++)
		if (opts->serials[i].stdio)
			return usage_error("%s: only one serial port can use stdio", opt);
	if (opts->serial_count == CLI_MAX_SERIALS)
		return usage_error("%s: too many serial ports (at most %d)", opt, CLI_MAX_SERIALS);
	opts->serials[opts->serial_count++] = serial;
	return true;
}

/* Index of value in names (NULL-terminated), or -1. */
static int pick(const char *value, const char *const *names)
{
	for (int i = 0; value && names[i]; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	return -1;
}

static bool parse_disk_option(const char *opt, struct cli_disk *d, const char *key, const char *value)
{
	static const char *const types[] = {"image", "dev", NULL};
	static const char *const caches[] = {"auto", "cached", "uncached", NULL};
	static const char *const syncs[] = {"full", "fsync", "none", NULL};
	uint64_t n;
	int i;

	if (strcmp(key, "readonly") == 0 && !value) {
		d->read_only = true;
	} else if (strcmp(key, "path") == 0) {
		if (!value || !*value)
			return usage_error("%s: path= needs a path", opt);
		d->path = value;
	} else if (strcmp(key, "type") == 0) {
		if ((i = pick(value, types)) < 0)
			return usage_error("%s: type= must be image or dev", opt);
		d->blockdev = i == 1;
	} else if (strcmp(key, "cache") == 0) {
		if ((i = pick(value, caches)) < 0)
			return usage_error("%s: cache= must be auto, cached or uncached", opt);
		d->cache = (vmk_disk_caching_mode)i;
	} else if (strcmp(key, "sync") == 0) {
		if ((i = pick(value, syncs)) < 0)
			return usage_error("%s: sync= must be full, fsync or none", opt);
		d->sync = (vmk_disk_sync_mode)i;
	} else if (strcmp(key, "queues") == 0) {
		if (!value || !parse_number(opt, value, UINT32_MAX, &n))
			return value ? false : usage_error("%s: queues= needs a number", opt);
		if (n < 1 || n > 16)
			return usage_error("%s: queues=%s is not between 1 and 16", opt, value);
		d->queues = (unsigned)n;
	} else if (strcmp(key, "deviceId") == 0) {
		if (!value || !*value)
			return usage_error("%s: deviceId= needs a value", opt);
		if (strlen(value) > 20)
			return usage_error("%s: deviceId \"%s\" is longer than 20 bytes", opt, value);
		for (const char *p = value; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return usage_error("%s: deviceId must be printable ASCII", opt);
		d->id = value;
	} else {
		return usage_error("%s: unknown virtio-blk option \"%s\"", opt, key);
	}
	return true;
}

static bool parse_disk(struct cli_options *opts, const char *opt, struct spec *spec)
{
	struct cli_disk d = {.cache = VMK_DISK_CACHING_AUTOMATIC, .sync = VMK_DISK_SYNC_FULL, .queues = 1};

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);

		if (!parse_disk_option(opt, &d, key, value))
			return false;
	}
	if (!d.path)
		return usage_error("%s: virtio-blk needs path=PATH", opt);
	if (opts->disk_count == CLI_MAX_DISKS)
		return usage_error("%s: too many virtio-blk devices (at most %d)", opt, CLI_MAX_DISKS);
	opts->disks[opts->disk_count++] = d;
	return true;
}

static bool parse_port(const char *opt, const char *what, const char *s, uint16_t *port)
{
	uint64_t n;

	if (!*s)
		return usage_error("%s: hostfwd: no %s port", opt, what);
	if (!parse_number(opt, s, 65535, &n))
		return false;
	if (!n)
		return usage_error("%s: hostfwd: %s port 0 is not allowed", opt, what);
	*port = (uint16_t)n;
	return true;
}

/* tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT. value is the parser's own copy. */
static bool parse_hostfwd(const char *opt, struct cli_net *n, char *value)
{
	struct cli_forward f = {0};
	char *host, *guest, *colon;

	if (strncmp(value, "tcp:", 4) == 0)
		f.proto = VMK_NAT_TCP;
	else if (strncmp(value, "udp:", 4) == 0)
		f.proto = VMK_NAT_UDP;
	else
		return usage_error("%s: hostfwd=%s: must start with tcp: or udp:", opt, value);
	host = value + 4;
	guest = strchr(host, '-');
	colon = guest ? memrchr(host, ':', (size_t)(guest - host)) : NULL;
	if (!guest || !colon)
		return usage_error("%s: hostfwd=%s: expected tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT", opt, value);
	*guest++ = '\0';
	*colon = '\0';
	/* The guest address is the one slirp's DHCP hands out; naming another
	 * would forward to nobody. */
	if (*guest != ':')
		return usage_error("%s: hostfwd: leave the guest address empty (\"-:PORT\"); the guest is "
				   "the DHCP address",
				   opt);
	if (!parse_port(opt, "host", colon + 1, &f.host_port) ||
	    !parse_port(opt, "guest", guest + 1, &f.guest_port))
		return false;
	f.host_addr = *host ? host : NULL;
	if (n->forward_count == CLI_MAX_FORWARDS)
		return usage_error("%s: too many hostfwd= (at most %d)", opt, CLI_MAX_FORWARDS);
	n->forwards[n->forward_count++] = f;
	return true;
}

static bool parse_net(struct cli_options *opts, const char *opt, struct spec *spec)
{
	struct cli_net n = {.fd = -1};
	uint64_t num;
	bool type_unixgram = false, magic_set = false;
	const char *path_opt = NULL;

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);

		if (strcmp(key, "nat") == 0 && !value) {
			n.nat = true;
		} else if (strcmp(key, "mac") == 0) {
			if (!value || !*value)
				return usage_error("%s: mac= needs an address", opt);
			n.mac = value;
		} else if (strcmp(key, "fd") == 0) {
			if (!value || !*value)
				return usage_error("%s: fd= needs a file descriptor number", opt);
			if (!parse_number(opt, value, INT32_MAX, &num))
				return false;
			n.fd = (int)num;
		} else if (strcmp(key, "unixSocketPath") == 0) {
			if (!value || !*value)
				return usage_error("%s: unixSocketPath= needs a path", opt);
			n.unix_path = value;
		} else if (strcmp(key, "type") == 0) {
			/* vfkit's newer spelling of unixSocketPath=. */
			if (!value || strcmp(value, "unixgram"))
				return usage_error("%s: type=%s: only type=unixgram is supported", opt,
						   value ? value : "");
			type_unixgram = true;
		} else if (strcmp(key, "path") == 0) {
			if (!value || !*value)
				return usage_error("%s: path= needs a path", opt);
			path_opt = value;
		} else if (strcmp(key, "vfkitMagic") == 0) {
			if (!value || (strcmp(value, "on") && strcmp(value, "off")))
				return usage_error("%s: vfkitMagic= must be on or off", opt);
			n.vfkit_magic = strcmp(value, "on") == 0;
			magic_set = true;
		} else if (strcmp(key, "tap") == 0) {
			if (!value || !*value)
				return usage_error("%s: tap= needs an interface name", opt);
			n.tap = value;
		} else if (strcmp(key, "bridge") == 0) {
			if (!value || !*value)
				return usage_error("%s: bridge= needs a bridge name", opt);
			n.bridge = value;
		} else if (strcmp(key, "mtu") == 0) {
			if (!value || !*value)
				return usage_error("%s: mtu= needs a number", opt);
			if (!parse_number(opt, value, UINT32_MAX, &num))
				return false;
			if (num < 1500 || num > 65535)
				return usage_error("%s: mtu=%s is not between 1500 and 65535", opt, value);
			n.mtu = (unsigned)num;
		} else if (strcmp(key, "hostfwd") == 0) {
			if (!value || !parse_hostfwd(opt, &n, value))
				return value ? false : usage_error("%s: hostfwd= needs a rule", opt);
		} else if (strcmp(key, "subnet") == 0) {
			if (!value || !*value)
				return usage_error("%s: subnet= needs a network like 10.0.2.0/24", opt);
			n.subnet = value;
		} else if (strcmp(key, "vhost") == 0) {
			if (!value || (strcmp(value, "on") && strcmp(value, "off")))
				return usage_error("%s: vhost= must be on or off", opt);
			n.no_vhost = strcmp(value, "off") == 0;
			n.vhost_set = true;
		} else if (strcmp(key, "outbound") == 0) {
			if (!value || (strcmp(value, "on") && strcmp(value, "off")))
				return usage_error("%s: outbound= must be on or off", opt);
			n.no_outbound = strcmp(value, "off") == 0;
		} else {
			return usage_error("%s: unknown virtio-net option \"%s\"", opt, key);
		}
	}
	if (type_unixgram != !!path_opt)
		return usage_error(type_unixgram ? "%s: type=unixgram needs path=PATH"
						 : "%s: path= needs type=unixgram",
				   opt);
	if (path_opt && n.unix_path)
		return usage_error("%s: give unixSocketPath= or type=unixgram,path=, not both", opt);
	if (path_opt)
		n.unix_path = path_opt;
	/* vfkit sends its magic datagram on unix paths unless told not to. */
	if (!magic_set)
		n.vfkit_magic = n.unix_path != NULL;
	else if (!n.unix_path)
		return usage_error("%s: vfkitMagic= applies to unix socket paths only", opt);
	int kinds = n.nat + (n.fd >= 0) + !!n.unix_path + !!n.tap + !!n.bridge;
	if (kinds == 0)
		return usage_error(
		    "%s: virtio-net needs an attachment: nat, fd=N, unixSocketPath=PATH, tap=IFNAME "
		    "or bridge=BR",
		    opt);
	if (kinds > 1)
		return usage_error(
		    "%s: virtio-net takes one attachment (nat, fd, unixSocketPath, tap or bridge)", opt);
	if (!n.nat && (n.forward_count || n.subnet || n.no_outbound))
		return usage_error("%s: hostfwd, subnet and outbound apply to nat only", opt);
	if (n.vhost_set && !n.tap && !n.bridge)
		return usage_error("%s: vhost= applies to tap and bridge only", opt);
	if (n.mtu && n.fd < 0 && !n.unix_path)
		return usage_error("%s: mtu= applies to fd and unixSocketPath only", opt);
	if (opts->net_count == CLI_MAX_NETS)
		return usage_error("%s: too many virtio-net devices (at most %d)", opt, CLI_MAX_NETS);
	opts->nets[opts->net_count++] = n;
	return true;
}

static bool parse_vsock(struct cli_options *opts, const char *opt, struct spec *spec)
{
	struct cli_vsock v = {0};
	bool port_set = false, listen = false, connect = false, hybrid = false;
	uint64_t num;

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);

		if (strcmp(key, "port") == 0) {
			if (!value || !*value)
				return usage_error("%s: port= needs a number", opt);
			if (!parse_number(opt, value, UINT32_MAX - 1, &num))
				return false;
			if (num == 0)
				return usage_error("%s: port=0 is reserved", opt);
			v.port = (uint32_t)num;
			port_set = true;
		} else if (strcmp(key, "socketURL") == 0) {
			if (!value || !*value)
				return usage_error("%s: socketURL= needs a path", opt);
			/* vfkit takes a plain path; a unix:// URL names the same. */
			v.path = strncmp(value, "unix://", 7) == 0 ? value + 7 : value;
		} else if (strcmp(key, "listen") == 0 && !value) {
			listen = true;
		} else if (strcmp(key, "connect") == 0 && !value) {
			connect = true;
		} else if (strcmp(key, "hybrid") == 0 && !value) {
			hybrid = true;
		} else {
			return usage_error("%s: unknown virtio-vsock option \"%s\"", opt, key);
		}
	}
	if (hybrid) {
		/* Firecracker's socket: one for every guest port, so no port=. */
		if (port_set || listen || connect || !v.path)
			return usage_error(
			    "%s: hybrid takes socketURL=PATH only (no port=, listen or connect)", opt);
		if (opts->vsock_hybrid)
			return usage_error("%s: one hybrid socket per VM (already %s)", opt,
					   opts->vsock_hybrid);
		opts->vsock_hybrid = v.path;
		return true;
	}
	if (!port_set || !v.path)
		return usage_error("%s: virtio-vsock needs port=N and socketURL=PATH", opt);
	if (listen && connect)
		return usage_error("%s: virtio-vsock takes listen or connect, not both", opt);
	v.host_to_guest = connect;
	if (opts->vsock_count == VMK_SOCKET_MAX_FORWARDS)
		return usage_error("%s: too many virtio-vsock ports (at most %d)", opt,
				   VMK_SOCKET_MAX_FORWARDS);
	opts->vsocks[opts->vsock_count++] = v;
	return true;
}

/* --timesync vsockPort=N, vfkit's only option for it: after the host wakes
 * and after a resume, the guest agent on port N is given the host's time. */
static bool parse_timesync(struct cli_options *opts, const char *opt, const char *value)
{
	uint64_t n;

	if (strncmp(value, "vsockPort=", 10) != 0 || strchr(value, ','))
		return usage_error("%s: takes vsockPort=N only", opt);
	if (!parse_number(opt, value + 10, UINT32_MAX - 1, &n))
		return false;
	if (n == 0)
		return usage_error("%s: vsockPort=0 is reserved", opt);
	opts->timesync_port = (uint32_t)n;
	return true;
}

/* vfkit's default tag: the shared directory's base name (filepath.Base). */
static const char *base_name(struct cli_options *opts, const char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	size_t start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	char *b = strndup(path + start, len - start);
	return b ? own(opts, b) : NULL;
}

static bool parse_fs(struct cli_options *opts, const char *opt, struct spec *spec)
{
	struct cli_fs f = {0};

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);

		if (strcmp(key, "sharedDir") == 0 && value && *value) {
			f.dir = value;
		} else if (strcmp(key, "mountTag") == 0 && value && *value) {
			f.tag = value;
		} else if (strcmp(key, "name") == 0 && value && *value) {
			f.name = value;
		} else if ((strcmp(key, "readonly") == 0 || strcmp(key, "readOnly") == 0) && !value) {
			f.read_only = true;
		} else if (strcmp(key, "sharedDir") == 0 || strcmp(key, "mountTag") == 0 ||
			   strcmp(key, "name") == 0) {
			return usage_error("%s: %s= needs a value", opt, key);
		} else {
			return usage_error("%s: unknown virtio-fs option \"%s\"", opt, key);
		}
	}
	if (!f.dir)
		return usage_error("%s: virtio-fs needs sharedDir=PATH", opt);
	if (!f.tag && !(f.tag = base_name(opts, f.dir)))
		return usage_error("%s: out of memory", opt);
	if (opts->fs_count == CLI_MAX_FS)
		return usage_error("%s: too many virtio-fs directories (at most %d)", opt, CLI_MAX_FS);
	opts->fs[opts->fs_count++] = f;
	return true;
}

static bool parse_input(struct cli_options *opts, const char *opt, struct spec *spec)
{
	struct cli_input in = {0};
	uint64_t num;

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);
		vmk_input_kind k = !strcmp(key, "keyboard")   ? VMK_INPUT_KEYBOARD
				   : !strcmp(key, "pointing") ? VMK_INPUT_SCREEN_POINTER
				   : !strcmp(key, "mouse")    ? VMK_INPUT_MOUSE
							      : 0;
		if (k && !value) {
			if (in.kind)
				return usage_error("%s: virtio-input is one of keyboard, pointing, mouse",
						   opt);
			in.kind = k;
		} else if ((!strcmp(key, "width") || !strcmp(key, "height")) && value) {
			if (!parse_number(opt, value, 8192, &num))
				return false;
			*(key[0] == 'w' ? &in.width : &in.height) = (uint32_t)num;
		} else {
			return usage_error("%s: unknown virtio-input option \"%s\"", opt, key);
		}
	}
	if (!in.kind)
		return usage_error("%s: virtio-input needs keyboard, pointing or mouse", opt);
	if ((in.width || in.height) && in.kind != VMK_INPUT_SCREEN_POINTER)
		return usage_error("%s: width= and height= are for a pointing device's screen", opt);
	if (opts->input_count == VMK_MAX_INPUT_DEVICES)
		return usage_error("%s: too many virtio-input devices (at most %d)", opt,
				   VMK_MAX_INPUT_DEVICES);
	opts->inputs[opts->input_count++] = in;
	return true;
}

static bool parse_gpu(struct cli_options *opts, const char *opt, struct spec *spec)
{
	struct cli_gpu gpu = {.width = 800, .height = 600}; /* vfkit's default display */
	uint64_t num;

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);
		if ((!strcmp(key, "width") || !strcmp(key, "height")) && value) {
			if (!parse_number(opt, value, UINT32_MAX, &num))
				return false;
			if (num < VMK_SCANOUT_MIN || num > VMK_SCANOUT_MAX)
				return usage_error("%s: %s=%s is outside %d to %d", opt, key, value,
						   VMK_SCANOUT_MIN, VMK_SCANOUT_MAX);
			*(key[0] == 'w' ? &gpu.width : &gpu.height) = (uint32_t)num;
		} else if (!strcmp(key, "vga") && value && (!strcmp(value, "on") || !strcmp(value, "off"))) {
			gpu.no_vga = !strcmp(value, "off");
		} else if (!strcmp(key, "vga")) {
			return usage_error("%s: vga= must be on or off", opt);
		} else {
			return usage_error("%s: unknown virtio-gpu option \"%s\"", opt, key);
		}
	}
	if (opts->gpu_count == VMK_MAX_GRAPHICS_DEVICES)
		return usage_error("%s: too many virtio-gpu devices (at most %d)", opt,
				   VMK_MAX_GRAPHICS_DEVICES);
	opts->gpus[opts->gpu_count++] = gpu;
	return true;
}

/* A device without options that a VM has at most once. */
static bool parse_single(const char *opt, struct spec *spec, bool *slot)
{
	if (spec->count > 1)
		return usage_error("%s: %s takes no options (got \"%s\")", opt, spec->items[0],
				   spec->items[1]);
	if (*slot)
		return usage_error("%s: only one %s device is supported", opt, spec->items[0]);
	*slot = true;
	return true;
}

/* vfkit's Rosetta share (Apple's VZLinuxRosettaDirectoryShare): Apple's x86-64
 * translator for Linux guests on Apple silicon. Linux hosts have no such thing;
 * ignore-if-missing asks for exactly what happens then: no share. */
static bool parse_rosetta(const char *opt, struct spec *spec)
{
	bool ignore = false;

	for (size_t i = 1; i < spec->count; i++) {
		char *value;
		const char *key = item_key(spec->items[i], &value);

		if (strcmp(key, "ignore-if-missing") == 0 && !value)
			ignore = true;
		else if (!(strcmp(key, "mountTag") == 0 && value && *value) &&
			 !(strcmp(key, "install") == 0 && !value))
			return usage_error("%s: unknown rosetta option \"%s\"", opt, key);
	}
	if (!ignore)
		return usage_error("%s: rosetta needs Apple's Rosetta translator, which exists only on "
				   "macOS on Apple silicon (add ignore-if-missing to go without it)",
				   opt);
	fprintf(stderr,
		"vmkit: %s: no Rosetta translator on this host; the VM runs without the "
		"share (ignore-if-missing)\n",
		opt);
	return true;
}

static bool parse_device(struct cli_options *opts, const char *opt, const char *s)
{
	struct spec spec;
	const char *type;

	if (!split_spec(opts, opt, s, &spec))
		return false;
	type = spec.items[0];
	if (strcmp(type, "serial") == 0 || strcmp(type, "virtio-serial") == 0)
		return parse_serial(opts, opt, &spec, type[0] == 'v');
	if (strcmp(type, "virtio-blk") == 0)
		return parse_disk(opts, opt, &spec);
	if (strcmp(type, "virtio-net") == 0)
		return parse_net(opts, opt, &spec);
	if (strcmp(type, "virtio-rng") == 0)
		return parse_single(opt, &spec, &opts->entropy);
	if (strcmp(type, "virtio-balloon") == 0)
		return parse_single(opt, &spec, &opts->balloon);
	if (strcmp(type, "virtio-vsock") == 0)
		return parse_vsock(opts, opt, &spec);
	if (strcmp(type, "virtio-fs") == 0)
		return parse_fs(opts, opt, &spec);
	if (strcmp(type, "virtio-input") == 0)
		return parse_input(opts, opt, &spec);
	if (strcmp(type, "virtio-gpu") == 0)
		return parse_gpu(opts, opt, &spec);
	if (strcmp(type, "rosetta") == 0)
		return parse_rosetta(opt, &spec);
	for (size_t i = 0; i < sizeof(unsupported_devices) / sizeof(unsupported_devices[0]); i++)
		if (strcmp(type, unsupported_devices[i]) == 0)
			return usage_error("%s: %s is not supported yet", opt, type);
	return usage_error("%s: unknown device type \"%s\"", opt, type);
}

static bool apply(struct cli_options *opts, const struct option_def *def, const char *opt, const char *value,
		  bool *legacy)
{
	uint64_t n;

	switch (def->id) {
	case OPT_CPUS:
		if (!parse_number(opt, value, UINT32_MAX, &n))
			return false;
		opts->cpus = (unsigned)n;
		return true;
	case OPT_MEMORY:
		return parse_number(opt, value, UINT64_MAX / MiB, &opts->memory_mib);
	case OPT_BOOTLOADER:
		return parse_bootloader(opts, opt, value);
	case OPT_KERNEL:
		*legacy = true;
		opts->kernel = value;
		return true;
	case OPT_INITRD:
		*legacy = true;
		opts->initrd = value;
		return true;
	case OPT_CMDLINE:
		*legacy = true;
		opts->cmdline = value;
		return true;
	case OPT_DEVICE:
		return parse_device(opts, opt, value);
	case OPT_REBOOT:
		if (strcmp(value, "restart") == 0)
			opts->reboot = VMK_REBOOT_RESTART;
		else if (strcmp(value, "stop") == 0)
			opts->reboot = VMK_REBOOT_STOP;
		else
			return usage_error("%s: \"%s\" is not restart or stop", opt, value);
		return true;
	case OPT_PIDFILE:
		if (!*value)
			return usage_error("%s: needs a path", opt);
		opts->pidfile = value;
		return true;
	case OPT_LOG_LEVEL:
		/* Accepted for vfkit command lines; vmkit only prints errors. */
		if (strcmp(value, "debug") && strcmp(value, "info") && strcmp(value, "error"))
			return usage_error("%s: \"%s\" is not debug, info or error", opt, value);
		return true;
	case OPT_RESTFUL_URI:
		opts->rest_uri = strcmp(value, "none://") ? value : NULL;
		return true;
	case OPT_RESTFUL_ALLOW_REMOTE:
		opts->rest_allow_remote = true;
		return true;
	case OPT_VNC:
		opts->vnc = value;
		return true;
	case OPT_WEB:
		opts->web = value;
		return true;
	case OPT_VNC_ALLOW_REMOTE:
		opts->vnc_allow_remote = true;
		return true;
	case OPT_VNC_PASSWORD_FILE:
		if (!*value)
			return usage_error("%s: needs a path", opt);
		opts->vnc_password_file = value;
		return true;
	case OPT_GUI:
		opts->gui = true;
		return true;
	case OPT_TIMESYNC:
		return parse_timesync(opts, opt, value);
	case OPT_HELP:
		opts->help = true;
		return true;
	case OPT_VERSION:
		opts->version = true;
		return true;
	case OPT_UNSUPPORTED:
		return usage_error("%s: %s", opt, unsupported_reason(def->long_name));
	}
	return false;
}

/* --gui adds what a window needs, as vfkit does: a display, a keyboard and
 * (beyond vfkit) a pointer. */
static bool has_input(const struct cli_options *opts, vmk_input_kind kind)
{
	for (size_t i = 0; i < opts->input_count; i++)
		if (opts->inputs[i].kind == kind)
			return true;
	return false;
}

static bool check_views(struct cli_options *opts)
{
	char why[512];

	if (opts->gui) {
		const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
		if ((!x || !*x) && (!w || !*w))
			return usage_error("--gui: no display to open a window on ($DISPLAY and "
					   "$WAYLAND_DISPLAY are not set; --vnc or --web show the VM "
					   "without one)");
		if (!opts->gpu_count)
			opts->gpus[opts->gpu_count++] = (struct cli_gpu){.width = 800, .height = 600};
		if (!has_input(opts, VMK_INPUT_KEYBOARD) && opts->input_count < VMK_MAX_INPUT_DEVICES)
			opts->inputs[opts->input_count++] = (struct cli_input){.kind = VMK_INPUT_KEYBOARD};
		if (!has_input(opts, VMK_INPUT_SCREEN_POINTER) && opts->input_count < VMK_MAX_INPUT_DEVICES)
			opts->inputs[opts->input_count++] =
			    (struct cli_input){.kind = VMK_INPUT_SCREEN_POINTER};
	}
	if ((opts->vnc || opts->web) && !opts->gpu_count)
		return usage_error("%s: the VM has no display (add --device virtio-gpu)",
				   opts->vnc ? "--vnc" : "--web");
	if (opts->vnc && !view_addr_check(opts->vnc, opts->vnc_allow_remote, why, sizeof(why)))
		return usage_error("--vnc: %s", why);
	if (opts->web && !view_addr_check(opts->web, opts->vnc_allow_remote, why, sizeof(why)))
		return usage_error("--web: %s", why);
	if (opts->web && strncmp(opts->web, "unix:", 5) == 0)
		return usage_error("--web: \"%s\": a browser needs HOST:PORT", opts->web);
	if (opts->vnc_password_file && !opts->vnc && !opts->web)
		return usage_error("--vnc-password-file: needs --vnc or --web");
	if (opts->vnc_allow_remote && !opts->vnc && !opts->web)
		return usage_error("--vnc-allow-remote: needs --vnc or --web");
	return true;
}

static const struct option_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strlen(options[i].long_name) == len && strncmp(options[i].long_name, name, len) == 0)
			return &options[i];
	return NULL;
}

static const struct option_def *find_short(char c)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (options[i].short_name && options[i].short_name == c)
			return &options[i];
	return NULL;
}

bool cli_parse_args(int argc, char **argv, struct cli_options *opts)
{
	bool legacy = false, bootloader = false;
	char opt[64];

	*opts = (struct cli_options){.cpus = 1, .memory_mib = 512, .reboot = VMK_REBOOT_RESTART};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct option_def *def;
		const char *value = NULL;

		if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
			const char *eq = strchr(arg + 2, '=');
			size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);

			def = find_long(arg + 2, len);
			snprintf(opt, sizeof(opt), "--%.*s", (int)len, arg + 2);
			if (!def)
				return usage_error("unknown option %s (see --help)", opt);
			if (eq && !def->has_value)
				return usage_error("%s takes no value", opt);
			value = eq ? eq + 1 : NULL;
		} else if (arg[0] == '-' && arg[1]) {
			def = find_short(arg[1]);
			snprintf(opt, sizeof(opt), "-%c", arg[1]);
			if (!def || (!def->has_value && arg[2]))
				return usage_error("unknown option %s (see --help)", arg);
			if (arg[2])
				value = arg[2] == '=' ? arg + 3 : arg + 2;
		} else {
			return usage_error("unexpected argument \"%s\" (see --help)", arg);
		}
		if (def->has_value && !value) {
			if (i + 1 == argc)
				return usage_error("%s: missing value", opt);
			value = argv[++i];
		}
		if (def->id == OPT_BOOTLOADER)
			bootloader = true;
		if (!apply(opts, def, opt, value, &legacy))
			return false;
	}
	if (opts->help || opts->version)
		return true;
	if (legacy && bootloader)
		return usage_error(
		    "--kernel, --initrd and --kernel-cmdline cannot be combined with --bootloader");
	if (!opts->kernel && !opts->efi_vars)
		return usage_error(legacy ? "--initrd and --kernel-cmdline need --kernel PATH"
					  : "no boot loader: use --bootloader linux,kernel=PATH");
	char why[512];
	if (opts->rest_uri && !rest_uri_check(opts->rest_uri, opts->rest_allow_remote, why, sizeof(why)))
		return usage_error("--restful-uri: %s", why);
	return check_views(opts);
}
