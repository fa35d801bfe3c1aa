/* The vmkit command: option parsing (args.c), the terminal (term.c) and
 * the run loop (main.c). */
#ifndef VMK_CLI_H
#define VMK_CLI_H

#include "rest/rest.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <vmkit/vmkit.h>

/* Exit statuses, documented in docs/cli.md. */
enum {
	EXIT_POWEROFF = 0,
	EXIT_VMM_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_GUEST_REBOOT = 3,
	EXIT_GUEST_CRASH = 4,
	EXIT_HOST_STOP = 5,
};

#define CLI_MAX_SERIALS 8
#define CLI_MAX_DISKS	16

/* --device virtio-blk,path=PATH[,type=image|dev][,readonly][,deviceId=ID]... */
struct cli_disk {
	const char *path;
	bool blockdev; /* type=dev */
	bool read_only;
	const char *id; /* NULL: none */
	vmk_disk_caching_mode cache;
	vmk_disk_sync_mode sync;
	unsigned queues;
};

#define CLI_MAX_NETS	 8
#define CLI_MAX_FORWARDS 32

/* hostfwd=tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT (QEMU's spelling) */
struct cli_forward {
	vmk_nat_protocol proto;
	const char *host_addr; /* NULL: loopback */
	uint16_t host_port;
	uint16_t guest_port;
};

/* --device virtio-net,nat[,mac=MAC][,hostfwd=...][,subnet=CIDR][,outbound=on|off]
 * --device virtio-net,fd=N|unixSocketPath=PATH[,mtu=N]|tap=IFNAME|bridge=BR[,vhost=on|off][,mac=MAC] */
struct cli_net {
	bool nat;
	int fd; /* fd=N: an inherited datagram socket, else -1 */
	const char
	    *unix_path; /* unixSocketPath=PATH or type=unixgram,path=PATH: vmkit connects a datagram socket */
	bool vfkit_magic;   /* send "VFKT" first (vfkit's default for unix paths; vfkitMagic=off) */
	const char *tap;    /* tap=IFNAME (extension) */
	const char *bridge; /* bridge=BR (extension) */
	bool no_vhost;	    /* vhost=off: TAP frames through vmkit, never vhost-net */
	bool vhost_set;	    /* vhost= given (TAP and bridge only) */
	unsigned mtu;	    /* mtu=N for fd and unixSocketPath; 0: default */
	const char *mac;    /* NULL: random */
	struct cli_forward forwards[CLI_MAX_FORWARDS];
	size_t forward_count;
	const char *subnet; /* NULL: 10.0.2.0/24 */
	bool no_outbound;
};

struct cli_serial {
	bool stdio;
	const char *log_path; /* when !stdio */
	bool append;
	bool virtio; /* virtio-serial: a virtio console port, else a 16550 */
};

/* --device virtio-vsock,port=N,socketURL=PATH[,listen|connect]: every such
 * argument is one forward of the VM's one socket device. */
struct cli_vsock {
	uint32_t port;
	const char *path;
	bool host_to_guest; /* connect; listen (the default) is guest to host */
};

/* --device virtio-fs,sharedDir=PATH[,mountTag=TAG][,readonly][,name=NAME]:
 * arguments with the same tag and a name make one multiple-directory share. */
#define CLI_MAX_FS 64
struct cli_fs {
	const char *dir;
	const char *tag; /* vfkit: the directory's base name when not given */
	const char *name;
	bool read_only;
};

/* --device virtio-input,keyboard|pointing|mouse[,width=W,height=H] */
struct cli_input {
	vmk_input_kind kind;
	uint32_t width, height; /* 0: the default screen */
};

/* --device virtio-gpu[,width=W,height=H][,vga=on|off]: one device with one scanout each. */
struct cli_gpu {
	uint32_t width, height;
	bool no_vga; /* vga=off */
};

struct cli_options {
	unsigned cpus;
	uint64_t memory_mib;
	/* --bootloader linux,... or the legacy -k/-i/-C */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	/* --bootloader efi,variable-store=PATH[,create][,firmware=PATH] */
	const char *efi_vars;
	const char *efi_firmware; /* NULL: VMK_EFI_DEFAULT_FIRMWARE */
	bool efi_create;
	struct cli_serial serials[CLI_MAX_SERIALS];
	size_t serial_count;
	vmk_reboot_action reboot;
	struct cli_disk disks[CLI_MAX_DISKS];
	size_t disk_count;
	struct cli_net nets[CLI_MAX_NETS];
	size_t net_count;
	bool entropy; /* virtio-rng */
	bool balloon; /* virtio-balloon */
	struct cli_vsock vsocks[VMK_SOCKET_MAX_FORWARDS];
	size_t vsock_count;
	const char *vsock_hybrid; /* --device virtio-vsock,socketURL=PATH,hybrid */
	uint32_t timesync_port;	  /* --timesync vsockPort=N; 0: none */
	struct cli_fs fs[CLI_MAX_FS];
	size_t fs_count;
	struct cli_input inputs[VMK_MAX_INPUT_DEVICES];
	size_t input_count;
	struct cli_gpu gpus[VMK_MAX_GRAPHICS_DEVICES];
	size_t gpu_count;
	const char *rest_uri; /* --restful-uri; NULL for none:// */
	bool rest_allow_remote;
	/* Views of the first display (src/view/). */
	const char *vnc;	       /* --vnc HOST:PORT | unix:PATH */
	const char *web;	       /* --web HOST:PORT (noVNC) */
	bool vnc_allow_remote;	       /* --vnc-allow-remote: --vnc and --web beyond loopback */
	const char *vnc_password_file; /* --vnc-password-file PATH */
	bool gui;		       /* --gui: a window (SDL2) */
	const char *pidfile;
	bool help;
	bool version;
	/* Strings the parser allocated (unquoted SPEC values), freed by cli_options_free. */
	char **owned;
	size_t owned_count;
};

/* --timesync (timesync.c): a thread that sets the guest's clock through
 * its guest agent after host sleep and after timesync_kick (a resume). */
struct timesync;
struct timesync *timesync_start(vmk_vm *vm, uint32_t port);
void timesync_kick(struct timesync *t);
/* After the VM stopped. */
void timesync_stop(struct timesync *t);

/* Fills opts from argv. On a usage error prints one line to stderr and
 * returns false. */
bool cli_parse_args(int argc, char **argv, struct cli_options *opts);
void cli_options_free(struct cli_options *opts);
void cli_usage(FILE *out);
/* GET /vm/inspect's answer: the configuration in vfkit's JSON (malloc'd). */
char *cli_inspect_json(const struct cli_options *opts);

/* Puts the terminal on fd in raw mode until term_restore(), which every
 * exit path calls (also from fatal signal handlers and atexit). */
bool term_make_raw(int fd);
void term_restore(void);

/* Ctrl-A escapes on terminal input: Ctrl-A x quits, Ctrl-A Ctrl-A sends a
 * literal Ctrl-A, Ctrl-A h prints help; anything else after Ctrl-A is sent
 * as typed. */
struct term_escape {
	bool pending;
};

enum term_action { TERM_NONE, TERM_QUIT, TERM_HELP };

/* Copies in[0..n) to out (room for n + 1 bytes), consuming escapes; returns
 * the number of bytes to send. Stops at an action, reported in *action with
 * *consumed set to the bytes of in used so far. */
size_t term_escape_filter(struct term_escape *st, const uint8_t *in, size_t n, uint8_t *out, size_t *consumed,
			  enum term_action *action);

#endif
