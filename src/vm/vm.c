/* vmk_vm: the public lifecycle state machine (Apple's VZVirtualMachine).
 * Every transition runs on the VM's event thread, so state has one writer
 * and observer callbacks arrive in order on that thread. Public calls from
 * other threads hand their work to it and wait. */
#include "config/config_priv.h"
#include "core/eventloop.h"
#include "util/error_priv.h"
#include "vm/keymap.h"
#include "vm/machine.h"
#include "vm/vmsock.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vm.h>

struct vmk_vm {
	struct vmk_config *cfg;
	struct evloop *loop;

	pthread_mutex_t lock; /* state, reason, error, observer */
	pthread_cond_t cond;
	vmk_state state;
	vmk_stop_reason reason;
	vmk_error *error;
	vmk_observer obs;
	void *obs_ctx;
	/* The display callback: called with display_lock held, so replacing it
	 * waits for a call in progress. */
	pthread_mutex_t display_lock;
	vmk_display_callback display_fn;
	void *display_ctx;

	struct vmsock *sock; /* run-time sockets: listeners outlive machines */

	/* Loop thread only. */
	struct machine *machine;
	int serial_fds[VMK_MAX_SERIAL_PORTS][2];
	int log_fds[VMK_MAX_SERIAL_PORTS];
};

static const char *const state_names[] = {"stopped", "starting", "running",  "pausing",
					  "paused",  "resuming", "stopping", "error"};
static const char *const reason_names[] = {"none",	     "guest-poweroff", "guest-reboot", "triple-fault",
					   "internal-error", "host-stop",      "vmm-error"};

const char *vmk_state_name(vmk_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "invalid";
}

const char *vmk_stop_reason_name(vmk_stop_reason r)
{
	return (unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]) ? reason_names[r] : "invalid";
}

static void vm_set_state(vmk_vm *vm, vmk_state s)
{
	pthread_mutex_lock(&vm->lock);
	vm->state = s;
	pthread_cond_broadcast(&vm->cond);
	vmk_observer obs = vm->obs;
	void *ctx = vm->obs_ctx;
	pthread_mutex_unlock(&vm->lock);
	if (obs.state_changed)
		obs.state_changed(vm, s, ctx);
}

static void vm_close_serial(vmk_vm *vm)
{
	for (size_t i = 0; i < VMK_MAX_SERIAL_PORTS; i++) {
		if (vm->log_fds[i] >= 0)
			close(vm->log_fds[i]);
		vm->log_fds[i] = -1;
		vm->serial_fds[i][0] = vm->serial_fds[i][1] = -1;
	}
}

/* Log files are opened once per start, so a guest reboot keeps appending. */
static bool vm_open_serial(vmk_vm *vm, vmk_error **err)
{
	for (size_t i = 0; i < vm->cfg->serial_port_count; i++) {
		const struct vmk_serial_attachment *a = vm->cfg->serial_ports[i]->attachment;
		if (a->kind == SERIAL_ATTACH_FD) {
			vm->serial_fds[i][0] = a->read_fd;
			vm->serial_fds[i][1] = a->write_fd;
			continue;
		}
		int fd =
		    open(a->path,
			 O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (a->append ? O_APPEND : O_TRUNC), 0644);
		if (fd < 0) {
			char field[48];
			snprintf(field, sizeof(field), "serial_ports[%zu].attachment", i);
			vm_close_serial(vm);
			return vmk_set_errno(err, VMK_ERR_SERIAL_ATTACHMENT, field, errno, "%s", a->path);
		}
		vm->log_fds[i] = fd;
		vm->serial_fds[i][0] = -1;
		vm->serial_fds[i][1] = fd;
	}
	return true;
}

static void vm_network_disconnected(void *ctx, unsigned index)
{
	vmk_vm *vm = ctx;

	pthread_mutex_lock(&vm->lock);
	vmk_observer obs = vm->obs;
	void *obs_ctx = vm->obs_ctx;
	pthread_mutex_unlock(&vm->lock);
	if (obs.network_disconnected)
		obs.network_disconnected(vm, index, obs_ctx);
}

static void vm_fs_failed(void *ctx, unsigned index, const char *why)
{
	vmk_vm *vm = ctx;
	vmk_error *err = NULL;
	char field[32];

	pthread_mutex_lock(&vm->lock);
	vmk_observer obs = vm->obs;
	void *obs_ctx = vm->obs_ctx;
	pthread_mutex_unlock(&vm->lock);
	if (!obs.directory_share_failed)
		return;
	snprintf(field, sizeof(field), "fs_devices[%u]", index);
	vmk_set_error(&err, VMK_ERR_FS_DEVICE, field, "%s: %s", field, why);
	obs.directory_share_failed(vm, index, err, obs_ctx);
	vmk_error_free(err);
}

static void vm_display_update(void *ctx, unsigned index, unsigned scanout, const vmk_rect *damage)
{
	vmk_vm *vm = ctx;

	pthread_mutex_lock(&vm->display_lock);
	if (vm->display_fn)
		vm->display_fn(vm, index, scanout, damage, vm->display_ctx);
	pthread_mutex_unlock(&vm->display_lock);
}

void vmk_vm_set_display_callback(vmk_vm *vm, vmk_display_callback fn, void *ctx)
{
	if (!vm)
		return;
	pthread_mutex_lock(&vm->display_lock);
	vm->display_fn = fn;
	vm->display_ctx = ctx;
	pthread_mutex_unlock(&vm->display_lock);
}

static void vm_machine_exited(void *arg);

static bool vm_vsock_has_listener(void *ctx, uint32_t port)
{
	vmk_vm *vm = ctx;
	return vmsock_has_listener(vm->sock, port);
}

static uint64_t vm_vsock_new_id(void *ctx)
{
	vmk_vm *vm = ctx;
	return vmsock_new_id(vm->sock);
}

static void vm_vsock_accept(void *ctx, uint64_t id, uint32_t port, uint32_t guest_port, int fd)
{
	vmk_vm *vm = ctx;
	vmsock_accept(vm->sock, vm, vm->machine, id, port, guest_port, fd);
}

static void vm_vsock_connected(void *ctx, uint64_t id, int fd, int error)
{
	vmk_vm *vm = ctx;
	vmsock_connected(vm->sock, vm, id, fd, error);
}

/* Every machine_destroy: the connects it was to answer end. */
static void vm_destroy_machine(vmk_vm *vm)
{
	machine_destroy(vm->machine);
	vm->machine = NULL;
	vmsock_machine_gone(vm->sock, vm);
}

static void vm_on_exit(void *ctx)
{
	vmk_vm *vm = ctx;
	evloop_post(vm->loop, vm_machine_exited, vm);
}

static bool vm_build_machine(vmk_vm *vm, vmk_error **err)
{
	static const struct machine_events ev = {.exited = vm_on_exit,
						 .network_disconnected = vm_network_disconnected,
						 .fs_failed = vm_fs_failed,
						 .vsock_has_listener = vm_vsock_has_listener,
						 .vsock_new_id = vm_vsock_new_id,
						 .vsock_accept = vm_vsock_accept,
						 .vsock_connected = vm_vsock_connected,
						 .display_update = vm_display_update};

	vm->machine = machine_create(vm->cfg, (const int(*)[2])vm->serial_fds, vm->loop, &ev, vm, err);
	if (!vm->machine)
		return false;
	if (!machine_start(vm->machine, err)) {
		machine_destroy(vm->machine);
		vm->machine = NULL;
		return false;
	}
	return true;
}

/* Ends the run: tears the machine down and settles the final state. */
static void vm_finish(vmk_vm *vm, vmk_stop_reason reason, vmk_error *error)
{
	vm_destroy_machine(vm);
	vm_close_serial(vm);
	pthread_mutex_lock(&vm->lock);
	vm->reason = reason;
	vmk_error_free(vm->error);
	vm->error = error;
	vmk_observer obs = vm->obs;
	void *ctx = vm->obs_ctx;
	pthread_mutex_unlock(&vm->lock);
	vm_set_state(vm, error ? VMK_STATE_ERROR : VMK_STATE_STOPPED);
	if (error && obs.did_stop_with_error)
		obs.did_stop_with_error(vm, reason, error, ctx);
	else if (!error && obs.did_stop)
		obs.did_stop(vm, reason, ctx);
}

static void vm_machine_exited(void *arg)
{
	vmk_vm *vm = arg;
	const char *detail = "";
	/* A machine already replaced or stopped by the host has nothing to say. */
	if (!vm->machine)
		return;
	enum machine_exit why = machine_exit_reason(vm->machine, &detail);
	if (why == MEXIT_NONE || why == MEXIT_HOST_STOP)
		return;
	if (why == MEXIT_RESET && vm->cfg->reboot_action == VMK_REBOOT_RESTART) {
		vm_destroy_machine(vm);
		vmk_error *err = NULL;
		if (!vm_build_machine(vm, &err)) {
			vm_finish(vm, VMK_STOP_REASON_VMM_ERROR, err);
			return;
		}
		pthread_mutex_lock(&vm->lock);
		vmk_observer obs = vm->obs;
		void *ctx = vm->obs_ctx;
		pthread_mutex_unlock(&vm->lock);
		if (obs.did_reboot)
			obs.did_reboot(vm, ctx);
		return;
	}
	vmk_error *err = NULL;
	vmk_stop_reason reason;
	switch (why) {
	case MEXIT_POWEROFF:
		reason = VMK_STOP_REASON_GUEST_POWEROFF;
		break;
	case MEXIT_RESET:
		reason = VMK_STOP_REASON_GUEST_REBOOT;
		break;
	case MEXIT_TRIPLE_FAULT:
		reason = VMK_STOP_REASON_TRIPLE_FAULT;
		vmk_set_error(&err, VMK_ERR_INTERNAL, NULL, "%s", detail);
		break;
	case MEXIT_INTERNAL_ERROR:
		reason = VMK_STOP_REASON_INTERNAL_ERROR;
		vmk_set_error(&err, VMK_ERR_KVM, NULL, "%s", detail);
		break;
	default:
		reason = VMK_STOP_REASON_VMM_ERROR;
		vmk_set_error(&err, VMK_ERR_INTERNAL, NULL, "%s", detail);
		break;
	}
	vm_set_state(vm, VMK_STATE_STOPPING);
	vm_finish(vm, reason, err);
}

enum vm_op {
	OP_START,
	OP_PAUSE,
	OP_RESUME,
	OP_REQUEST_STOP,
	OP_STOP,
	OP_STORAGE,
	OP_NETWORK,
	OP_BALLOON,
	OP_BALLOON_STATS,
	OP_INPUT,
	OP_TYPE_TEXT,
	OP_SOCK_LISTEN,
	OP_SOCK_UNLISTEN,
	OP_SOCK_CONNECT,
	OP_FRAME,
	OP_FRAME_RECT,
	OP_CURSOR,
	OP_RECONFIGURE
};

struct vm_cmd {
	vmk_vm *vm;
	enum vm_op op;
	bool ok;
	vmk_error *err;
	/* Arguments of the run-time device calls. */
	unsigned index;
	const vmk_storage_attachment *attachment;
	const vmk_network_attachment *net;
	uint64_t bytes;
	vmk_balloon_stats *stats;
	enum machine_input_op input;
	int32_t a, b;
	const char *text;
	uint32_t port;
	vmk_socket_accept_fn accept;
	vmk_socket_connect_fn connected;
	void *ctx;
	vmk_frame **frame;
	vmk_frame *into;
	const vmk_rect *rect;
	vmk_cursor **cursor;
	unsigned scanout;
	uint32_t width, height;
};

static bool vm_state_allows(vmk_state s, enum vm_op op)
{
	switch (op) {
	case OP_START:
		return s == VMK_STATE_STOPPED || s == VMK_STATE_ERROR;
	case OP_PAUSE:
	case OP_REQUEST_STOP:
		return s == VMK_STATE_RUNNING;
	case OP_RESUME:
		return s == VMK_STATE_PAUSED;
	case OP_STOP:
	case OP_STORAGE:
	case OP_NETWORK:
	case OP_BALLOON:
	case OP_BALLOON_STATS:
	case OP_INPUT:
	case OP_TYPE_TEXT:
	case OP_SOCK_CONNECT:
	case OP_FRAME:
	case OP_FRAME_RECT:
	case OP_CURSOR:
	case OP_RECONFIGURE:
		return s == VMK_STATE_RUNNING || s == VMK_STATE_PAUSED;
	case OP_SOCK_LISTEN:
	case OP_SOCK_UNLISTEN:
		return true;
	}
	return false;
}

/* Each character: Shift if needed, the key down and up. Checked whole
 * first, so a text with a character no key types sends nothing. */
static bool vm_type_text(struct machine *m, const char *text, vmk_error **err)
{
	size_t len = strlen(text);
	uint16_t code;
	bool shift;

	if (len > VMK_INPUT_TEXT_MAX)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "text",
				     "text: %zu characters, at most %d a call", len, VMK_INPUT_TEXT_MAX);
	for (size_t i = 0; i < len; i++)
		if (!keymap_us(text[i], &code, &shift))
			return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "text",
					     "text: character %zu (0x%02x) has no key on a US keyboard", i,
					     (unsigned char)text[i]);
	for (size_t i = 0; i < len; i++) {
		keymap_us(text[i], &code, &shift);
		if ((shift && !machine_input(m, MINPUT_KEY, KEY_LEFTSHIFT, 1, err)) ||
		    !machine_input(m, MINPUT_KEY, code, 1, err) ||
		    !machine_input(m, MINPUT_KEY, code, 0, err) ||
		    (shift && !machine_input(m, MINPUT_KEY, KEY_LEFTSHIFT, 0, err)))
			return false;
	}
	return true;
}

static const char *const op_names[] = {"start",
				       "pause",
				       "resume",
				       "request_stop",
				       "stop",
				       "change the storage of",
				       "change a network attachment of",
				       "set the balloon of",
				       "read the balloon of",
				       "send input to",
				       "type into",
				       "listen on a socket port of",
				       "remove a socket listener of",
				       "connect to a socket port of",
				       "copy a frame of",
				       "copy the cursor of",
				       "reconfigure a display of"};

/* The VM's configuration follows the change, so a guest reboot (a new
 * machine) and a later start keep the new cable. The copy is made first:
 * once the old backend is gone there is no failing. */
static void vm_change_network(vmk_vm *vm, struct vm_cmd *c)
{
	vmk_network_attachment *copy = NULL;

	if (c->net && !(copy = vmk_network_attachment_copy(c->net))) {
		char field[48];
		snprintf(field, sizeof(field), "network_devices[%u].attachment", c->index);
		c->ok = vmk_set_errno(&c->err, VMK_ERR_OUT_OF_MEMORY, field, errno,
				      "%s: cannot copy the attachment", field);
		return;
	}
	c->ok = machine_change_network(vm->machine, c->index, c->net, &c->err);
	if (!c->ok) {
		vmk_network_attachment_free(copy);
		return;
	}
	vmk_network_attachment_free(vm->cfg->network[c->index]->attachment);
	vm->cfg->network[c->index]->attachment = copy;
}

static void vm_run_cmd(void *arg)
{
	struct vm_cmd *c = arg;
	vmk_vm *vm = c->vm;
	pthread_mutex_lock(&vm->lock);
	vmk_state s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	if (!vm_state_allows(s, c->op)) {
		char field[48] = "state";
		if (c->op == OP_NETWORK)
			snprintf(field, sizeof(field), "network_devices[%u].attachment", c->index);
		c->ok = vmk_set_error(&c->err, VMK_ERR_INVALID_STATE, field, "%s: cannot %s a VM that is %s",
				      field, op_names[c->op], vmk_state_name(s));
		return;
	}
	c->ok = true;
	switch (c->op) {
	case OP_START:
		pthread_mutex_lock(&vm->lock);
		vm->reason = VMK_STOP_REASON_NONE;
		vmk_error_free(vm->error);
		vm->error = NULL;
		pthread_mutex_unlock(&vm->lock);
		vm_set_state(vm, VMK_STATE_STARTING);
		if (!vm_open_serial(vm, &c->err) || !vm_build_machine(vm, &c->err)) {
			vm_close_serial(vm);
			/* Nothing ran: back to stopped, the caller has the error. */
			vm_set_state(vm, s);
			c->ok = false;
			return;
		}
		vm_set_state(vm, VMK_STATE_RUNNING);
		break;
	case OP_PAUSE:
		vm_set_state(vm, VMK_STATE_PAUSING);
		machine_pause(vm->machine);
		vm_set_state(vm, VMK_STATE_PAUSED);
		break;
	case OP_RESUME:
		vm_set_state(vm, VMK_STATE_RESUMING);
		machine_resume(vm->machine);
		vm_set_state(vm, VMK_STATE_RUNNING);
		break;
	case OP_REQUEST_STOP:
		machine_power_button(vm->machine);
		break;
	case OP_STOP:
		vm_set_state(vm, VMK_STATE_STOPPING);
		vm_finish(vm, VMK_STOP_REASON_HOST_STOP, NULL);
		break;
	case OP_STORAGE:
		c->ok = machine_change_storage(vm->machine, c->index, c->attachment, &c->err);
		break;
	case OP_NETWORK:
		vm_change_network(vm, c);
		break;
	case OP_BALLOON:
		c->ok = machine_balloon_set_target(vm->machine, c->bytes, &c->err);
		break;
	case OP_BALLOON_STATS:
		c->ok = machine_balloon_stats(vm->machine, c->stats, &c->err);
		break;
	case OP_INPUT:
		c->ok = machine_input(vm->machine, c->input, c->a, c->b, &c->err);
		break;
	case OP_TYPE_TEXT:
		c->ok = vm_type_text(vm->machine, c->text, &c->err);
		break;
	case OP_SOCK_LISTEN:
		c->ok = vmsock_set_listener(vm->sock, vm->cfg, c->port, c->accept, c->ctx, &c->err);
		break;
	case OP_SOCK_UNLISTEN:
		c->ok = vmsock_remove_listener(vm->sock, c->port, &c->err);
		break;
	case OP_SOCK_CONNECT:
		c->ok = vmsock_connect(vm->sock, vm->machine, c->port, c->connected, c->ctx, &c->err);
		break;
	case OP_FRAME:
		c->ok = machine_copy_frame(vm->machine, c->index, c->scanout, c->frame, &c->err);
		break;
	case OP_FRAME_RECT:
		c->ok = machine_copy_frame_rect(vm->machine, c->index, c->scanout, c->rect, c->into, &c->err);
		break;
	case OP_CURSOR:
		c->ok = machine_copy_cursor(vm->machine, c->index, c->cursor, &c->err);
		break;
	case OP_RECONFIGURE:
		c->ok = machine_reconfigure_display(vm->machine, c->index, c->scanout, c->width, c->height,
						    &c->err);
		break;
	}
}

static bool vm_run(struct vm_cmd *c, vmk_error **err)
{
	evloop_call(c->vm->loop, vm_run_cmd, c);
	if (!c->ok) {
		if (err && !*err)
			*err = c->err;
		else
			vmk_error_free(c->err);
	}
	return c->ok;
}

static bool vm_do(vmk_vm *vm, enum vm_op op, vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = op};
	return vm_run(&c, err);
}

bool vmk_vm_change_storage_attachment(vmk_vm *vm, unsigned index, const vmk_storage_attachment *a,
				      vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = OP_STORAGE, .index = index, .attachment = a};
	return vm_run(&c, err);
}

bool vmk_vm_change_network_attachment(vmk_vm *vm, unsigned index, const vmk_network_attachment *a,
				      vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = OP_NETWORK, .index = index, .net = a};
	return vm_run(&c, err);
}

bool vmk_vm_set_balloon_target(vmk_vm *vm, uint64_t bytes, vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = OP_BALLOON, .bytes = bytes};
	return vm_run(&c, err);
}

static bool vm_input(vmk_vm *vm, enum machine_input_op op, int32_t a, int32_t b, vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = OP_INPUT, .input = op, .a = a, .b = b};
	return vm_run(&c, err);
}

bool vmk_vm_input_key(vmk_vm *vm, uint16_t code, bool pressed, vmk_error **err)
{
	return vm_input(vm, MINPUT_KEY, code, pressed, err);
}

bool vmk_vm_input_pointer_position(vmk_vm *vm, int32_t x, int32_t y, vmk_error **err)
{
	return vm_input(vm, MINPUT_POSITION, x, y, err);
}

bool vmk_vm_input_pointer_motion(vmk_vm *vm, int32_t dx, int32_t dy, vmk_error **err)
{
	return vm_input(vm, MINPUT_MOTION, dx, dy, err);
}

bool vmk_vm_input_button(vmk_vm *vm, vmk_input_button button, bool pressed, vmk_error **err)
{
	return vm_input(vm, MINPUT_BUTTON, (int32_t)button, pressed, err);
}

bool vmk_vm_input_wheel(vmk_vm *vm, int32_t clicks, vmk_error **err)
{
	return vm_input(vm, MINPUT_WHEEL, clicks, 0, err);
}

bool vmk_vm_input_type_text(vmk_vm *vm, const char *text, vmk_error **err)
{
	if (!vm || !text)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine or text");
	struct vm_cmd c = {.vm = vm, .op = OP_TYPE_TEXT, .text = text};
	return vm_run(&c, err);
}

bool vmk_vm_socket_set_listener(vmk_vm *vm, uint32_t port, vmk_socket_accept_fn accept, void *ctx,
				vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = OP_SOCK_LISTEN, .port = port, .accept = accept, .ctx = ctx};
	return vm_run(&c, err);
}

bool vmk_vm_socket_remove_listener(vmk_vm *vm, uint32_t port, vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = OP_SOCK_UNLISTEN, .port = port};
	return vm_run(&c, err);
}

bool vmk_vm_socket_connect(vmk_vm *vm, uint32_t port, vmk_socket_connect_fn done, void *ctx, vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm, .op = OP_SOCK_CONNECT, .port = port, .connected = done, .ctx = ctx};
	return vm_run(&c, err);
}

bool vmk_vm_copy_frame(vmk_vm *vm, unsigned device, unsigned scanout, vmk_frame **frame, vmk_error **err)
{
	if (!vm || !frame)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine or frame");
	*frame = NULL;
	struct vm_cmd c = {.vm = vm, .op = OP_FRAME, .index = device, .scanout = scanout, .frame = frame};
	return vm_run(&c, err);
}

bool vmk_vm_copy_frame_rect(vmk_vm *vm, unsigned device, unsigned scanout, const vmk_rect *rect,
			    vmk_frame *into, vmk_error **err)
{
	if (!vm || !into || (!into->pixels && into->width && into->height) || into->stride / 4 < into->width)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "frame",
				     "NULL virtual machine or frame, or a frame without pixels");
	struct vm_cmd c = {
	    .vm = vm, .op = OP_FRAME_RECT, .index = device, .scanout = scanout, .rect = rect, .into = into};
	return vm_run(&c, err);
}

bool vmk_vm_copy_cursor(vmk_vm *vm, unsigned device, vmk_cursor **cursor, vmk_error **err)
{
	if (!vm || !cursor)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine or cursor");
	*cursor = NULL;
	struct vm_cmd c = {.vm = vm, .op = OP_CURSOR, .index = device, .cursor = cursor};
	return vm_run(&c, err);
}

bool vmk_vm_save_screenshot(vmk_vm *vm, unsigned device, unsigned scanout, const char *path, vmk_error **err)
{
	vmk_frame *f;
	if (!vmk_vm_copy_frame(vm, device, scanout, &f, err))
		return false;
	bool ok = vmk_frame_save_png(f, path, err);
	vmk_frame_free(f);
	return ok;
}

bool vmk_vm_reconfigure_display(vmk_vm *vm, unsigned device, unsigned scanout, uint32_t width,
				uint32_t height, vmk_error **err)
{
	if (!vm)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine");
	struct vm_cmd c = {.vm = vm,
			   .op = OP_RECONFIGURE,
			   .index = device,
			   .scanout = scanout,
			   .width = width,
			   .height = height};
	return vm_run(&c, err);
}

bool vmk_vm_get_balloon_stats(vmk_vm *vm, vmk_balloon_stats *stats, vmk_error **err)
{
	if (!vm || !stats)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "vm", "NULL virtual machine or stats");
	struct vm_cmd c = {.vm = vm, .op = OP_BALLOON_STATS, .stats = stats};
	return vm_run(&c, err);
}

bool vmk_vm_start(vmk_vm *vm, vmk_error **err)
{
	return vm_do(vm, OP_START, err);
}

bool vmk_vm_pause(vmk_vm *vm, vmk_error **err)
{
	return vm_do(vm, OP_PAUSE, err);
}

bool vmk_vm_resume(vmk_vm *vm, vmk_error **err)
{
	return vm_do(vm, OP_RESUME, err);
}

bool vmk_vm_request_stop(vmk_vm *vm, vmk_error **err)
{
	return vm_do(vm, OP_REQUEST_STOP, err);
}

bool vmk_vm_stop(vmk_vm *vm, vmk_error **err)
{
	return vm_do(vm, OP_STOP, err);
}

vmk_state vmk_vm_get_state(vmk_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vmk_state s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

bool vmk_vm_can_start(vmk_vm *vm)
{
	return vm_state_allows(vmk_vm_get_state(vm), OP_START);
}

bool vmk_vm_can_pause(vmk_vm *vm)
{
	return vm_state_allows(vmk_vm_get_state(vm), OP_PAUSE);
}

bool vmk_vm_can_resume(vmk_vm *vm)
{
	return vm_state_allows(vmk_vm_get_state(vm), OP_RESUME);
}

bool vmk_vm_can_request_stop(vmk_vm *vm)
{
	return vm_state_allows(vmk_vm_get_state(vm), OP_REQUEST_STOP);
}

bool vmk_vm_can_stop(vmk_vm *vm)
{
	return vm_state_allows(vmk_vm_get_state(vm), OP_STOP);
}

vmk_stop_reason vmk_vm_wait(vmk_vm *vm, int timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ms >= 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&vm->lock);
	while (vm->state != VMK_STATE_STOPPED && vm->state != VMK_STATE_ERROR) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&vm->cond, &vm->lock);
		} else if (pthread_cond_timedwait(&vm->cond, &vm->lock, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&vm->lock);
			return VMK_STOP_REASON_NONE;
		}
	}
	vmk_stop_reason r = vm->reason;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

vmk_stop_reason vmk_vm_get_stop_reason(vmk_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vmk_stop_reason r = vm->reason;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

const vmk_error *vmk_vm_get_error(vmk_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	const vmk_error *e = vm->error;
	pthread_mutex_unlock(&vm->lock);
	return e;
}

void vmk_vm_set_observer(vmk_vm *vm, const vmk_observer *obs, void *ctx)
{
	pthread_mutex_lock(&vm->lock);
	if (obs)
		vm->obs = *obs;
	else
		memset(&vm->obs, 0, sizeof(vm->obs));
	vm->obs_ctx = ctx;
	pthread_mutex_unlock(&vm->lock);
}

static bool vm_check_kvm(vmk_error **err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		return vmk_set_errno(err, VMK_ERR_NO_KVM, NULL, errno,
				     "/dev/kvm is missing: load the kvm module or enable virtualization");
	return vmk_set_errno(err, VMK_ERR_KVM_PERMISSION, NULL, errno,
			     "/dev/kvm: no permission (add the user to the kvm group)");
}

vmk_vm *vmk_vm_new(const vmk_config *cfg, vmk_error **err)
{
	if (!cfg) {
		vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "config", "NULL configuration");
		return NULL;
	}
	if (!vmk_config_validate(cfg, err) || !vm_check_kvm(err))
		return NULL;
	vmk_vm *vm = calloc(1, sizeof(*vm));
	if (!vm || !(vm->cfg = vmk_config_copy(cfg)) || !(vm->sock = vmsock_new()) ||
	    !(vm->loop = evloop_new())) {
		if (vm) {
			vmk_config_free(vm->cfg);
			vmsock_free(vm->sock);
		}
		free(vm);
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
		return NULL;
	}
	evloop_set_name(vm->loop, "vmk-events");
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->display_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (size_t i = 0; i < VMK_MAX_SERIAL_PORTS; i++)
		vm->log_fds[i] = -1;
	vm_close_serial(vm);
	vm->state = VMK_STATE_STOPPED;
	return vm;
}

static void vm_teardown(void *arg)
{
	vmk_vm *vm = arg;
	memset(&vm->obs, 0, sizeof(vm->obs));
	if (vm->machine)
		vm_destroy_machine(vm);
	vm_close_serial(vm);
}

void vmk_vm_free(vmk_vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&vm->lock);
	memset(&vm->obs, 0, sizeof(vm->obs));
	pthread_mutex_unlock(&vm->lock);
	evloop_call(vm->loop, vm_teardown, vm);
	evloop_free(vm->loop);
	vmsock_free(vm->sock);
	vmk_error_free(vm->error);
	vmk_config_free(vm->cfg);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->display_lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
}
