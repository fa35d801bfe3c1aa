/* One running instance of the x86 machine: KVM VM, guest RAM, platform
 * devices and vCPU threads. A vmk_vm builds a new machine for every start
 * and every guest reboot. */
#ifndef VMK_MACHINE_H
#define VMK_MACHINE_H

#include "config/config_priv.h"
#include "core/eventloop.h"
#include <stdbool.h>
#include <vmkit/devices.h>
#include <vmkit/error.h>

enum machine_exit {
	MEXIT_NONE = 0,
	MEXIT_POWEROFF,
	MEXIT_RESET,
	MEXIT_TRIPLE_FAULT,
	MEXIT_INTERNAL_ERROR,
	MEXIT_HOST_STOP,
	MEXIT_VMM_ERROR,
};

struct machine;

/* How the machine tells its owner (the VM, vm.c) what happened, so that
 * nothing below the VM calls up into it by name. ctx is machine_create's. */
struct machine_events {
	/* Once, on whatever thread latched the first exit (not for a host
	 * stop); it must only hand the news over (e.g. evloop_post). */
	void (*exited)(void *ctx);
	/* Network device `index` lost its attachment. On the owner's event
	 * loop (machine_create's loop), which outlives the machine. */
	void (*network_disconnected)(void *ctx, unsigned index);
	/* File system device `index` stopped serving (why: one line). On the
	 * owner's event loop. */
	void (*fs_failed)(void *ctx, unsigned index, const char *why);
	/* Run-time sockets (socket.h). vsock_has_listener and vsock_new_id on
	 * the I/O thread: a look-up, never blocking. vsock_accept and
	 * vsock_connected on the owner's event loop; they own fd (-1 for a
	 * failed connect, with an errno). */
	bool (*vsock_has_listener)(void *ctx, uint32_t port);
	uint64_t (*vsock_new_id)(void *ctx);
	void (*vsock_accept)(void *ctx, uint64_t id, uint32_t port, uint32_t guest_port, int fd);
	void (*vsock_connected)(void *ctx, uint64_t id, int fd, int error);
	/* Graphics device `index` changed scanout `scanout` (damage in its
	 * pixels) or its cursor (NULL). Called directly on the device's thread
	 * (the I/O thread mostly): it must only hand the news over. */
	void (*display_update)(void *ctx, unsigned index, unsigned scanout, const vmk_rect *damage);
};

/* serial_fds[i] = {in, out} for cfg->serial_ports[i]; used, not owned.
 * ev is copied. */
struct machine *machine_create(const struct vmk_config *cfg, const int (*serial_fds)[2], struct evloop *loop,
			       const struct machine_events *ev, void *ctx, vmk_error **err);
bool machine_start(struct machine *m, vmk_error **err);
/* Returns once every vCPU is parked outside KVM_RUN. */
void machine_pause(struct machine *m);
void machine_resume(struct machine *m);
void machine_power_button(struct machine *m);
/* Latches MEXIT_HOST_STOP (unless another exit came first) and joins the
 * vCPU threads. Must run on the loop thread. */
void machine_stop(struct machine *m);
/* Run-time device changes (devices.c); VM event thread. */
bool machine_change_storage(struct machine *m, unsigned index, const struct vmk_storage_attachment *a,
			    vmk_error **err);
bool machine_change_network(struct machine *m, unsigned index, const struct vmk_network_attachment *a,
			    vmk_error **err);
/* Input (devices.c; VM event thread): one report to every device it
 * concerns. KEY: a = evdev code, b = pressed; POSITION: a, b = x, y in
 * pixels (clamped to each screen pointer's screen); MOTION: a, b = dx, dy
 * (mice); BUTTON: a = vmk_input_button, b = pressed; WHEEL: a = clicks (up
 * positive) (both pointing kinds). */
enum machine_input_op { MINPUT_KEY, MINPUT_POSITION, MINPUT_MOTION, MINPUT_BUTTON, MINPUT_WHEEL };
bool machine_input(struct machine *m, enum machine_input_op op, int32_t a, int32_t b, vmk_error **err);
/* Run-time sockets (devices.c; VM event thread). connect: the answer comes
 * through vsock_connected(id); false (err set) when the machine has no
 * socket device or no memory. accept_done: the application's decision on
 * vsock_accept(id). */
bool machine_vsock_connect(struct machine *m, uint64_t id, uint32_t guest_port, vmk_error **err);
void machine_vsock_accept_done(struct machine *m, uint64_t id, bool accept);
/* Graphics (devices.c; VM event thread). */
bool machine_copy_frame(struct machine *m, unsigned device, unsigned scanout, vmk_frame **out,
			vmk_error **err);
bool machine_copy_frame_rect(struct machine *m, unsigned device, unsigned scanout, const vmk_rect *rect,
			     vmk_frame *into, vmk_error **err);
bool machine_copy_cursor(struct machine *m, unsigned device, vmk_cursor **out, vmk_error **err);
bool machine_reconfigure_display(struct machine *m, unsigned device, unsigned scanout, uint32_t w, uint32_t h,
				 vmk_error **err);
bool machine_balloon_set_target(struct machine *m, uint64_t bytes, vmk_error **err);
bool machine_balloon_stats(struct machine *m, vmk_balloon_stats *st, vmk_error **err);
/* What ended the machine, with a detail string owned by the machine. */
enum machine_exit machine_exit_reason(struct machine *m, const char **detail);
/* Stops (if needed) and frees everything. Must run on the loop thread. */
void machine_destroy(struct machine *m);

#endif
