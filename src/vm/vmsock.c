/* The VM's run-time sockets (Apple: VZVirtioSocketDevice's listeners and
 * connects). The listener table is read by the socket device on the I/O
 * thread, so it has a lock; everything else, and every application
 * callback, is on the VM's event thread. A callback is called with no lock
 * held and after the table no longer refers to what it ends, so it may
 * call any vmk_vm_socket_* function. */
#include "vm/vmsock.h"
#include "util/error_priv.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct vmsock_listener {
	uint32_t port;
	vmk_socket_accept_fn fn;
	void *ctx;
};

struct vmsock_connect {
	uint64_t id;
	uint32_t port;
	vmk_socket_connect_fn fn;
	void *ctx;
};

struct vmsock {
	pthread_mutex_t lock; /* listeners */
	struct vmsock_listener listeners[VMK_SOCKET_MAX_LISTENERS];
	unsigned nlisteners;
	_Atomic uint64_t next_id;
	/* Event thread only. */
	struct vmsock_connect connects[VMK_SOCKET_MAX_CONNECTS];
	unsigned nconnects;
};

struct vmsock *vmsock_new(void)
{
	struct vmsock *s = calloc(1, sizeof(*s));

	if (s) {
		pthread_mutex_init(&s->lock, NULL);
		atomic_init(&s->next_id, 1);
	}
	return s;
}

void vmsock_free(struct vmsock *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int listener_index(struct vmsock *s, uint32_t port)
{
	for (unsigned i = 0; i < s->nlisteners; i++)
		if (s->listeners[i].port == port)
			return (int)i;
	return -1;
}

bool vmsock_has_listener(struct vmsock *s, uint32_t port)
{
	pthread_mutex_lock(&s->lock);
	bool has = listener_index(s, port) >= 0;
	pthread_mutex_unlock(&s->lock);
	return has;
}

uint64_t vmsock_new_id(struct vmsock *s)
{
	return atomic_fetch_add(&s->next_id, 1);
}

bool vmsock_set_listener(struct vmsock *s, const struct vmk_config *cfg, uint32_t port,
			 vmk_socket_accept_fn fn, void *ctx, vmk_error **err)
{
	if (!cfg->vsock)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "socket_device",
				     "the VM has no socket device");
	if (!fn)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "accept", "accept: NULL callback");
	if (port == 0 || port == UINT32_MAX)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "port", "port: %u is reserved", port);
	/* The forward would win every connection: the listener would never hear. */
	for (size_t i = 0; i < cfg->vsock->nforwards; i++)
		if (cfg->vsock->forwards[i].mode == VMK_SOCKET_FORWARD_GUEST_TO_HOST &&
		    cfg->vsock->forwards[i].port == port)
			return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "port",
					     "port: host port %u is forwarded to %s by the configuration",
					     port, cfg->vsock->forwards[i].path);
	pthread_mutex_lock(&s->lock);
	int i = listener_index(s, port);
	if (i < 0 && s->nlisteners == VMK_SOCKET_MAX_LISTENERS) {
		pthread_mutex_unlock(&s->lock);
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "port", "port: at most %d listeners",
				     VMK_SOCKET_MAX_LISTENERS);
	}
	if (i < 0)
		i = (int)s->nlisteners++;
	s->listeners[i] = (struct vmsock_listener){.port = port, .fn = fn, .ctx = ctx};
	pthread_mutex_unlock(&s->lock);
	return true;
}

bool vmsock_remove_listener(struct vmsock *s, uint32_t port, vmk_error **err)
{
	pthread_mutex_lock(&s->lock);
	int i = listener_index(s, port);
	if (i >= 0)
		s->listeners[i] = s->listeners[--s->nlisteners];
	pthread_mutex_unlock(&s->lock);
	if (i < 0)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "port", "port: %u has no listener", port);
	return true;
}

bool vmsock_connect(struct vmsock *s, struct machine *m, uint32_t port, vmk_socket_connect_fn fn, void *ctx,
		    vmk_error **err)
{
	if (!fn)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "done", "done: NULL callback");
	if (port == 0 || port == UINT32_MAX)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "port", "port: %u is reserved", port);
	if (s->nconnects == VMK_SOCKET_MAX_CONNECTS)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "port",
				     "port: %d connects already wait for the guest", VMK_SOCKET_MAX_CONNECTS);
	uint64_t id = vmsock_new_id(s);
	if (!machine_vsock_connect(m, id, port, err))
		return false;
	s->connects[s->nconnects++] = (struct vmsock_connect){.id = id, .port = port, .fn = fn, .ctx = ctx};
	return true;
}

void vmsock_accept(struct vmsock *s, vmk_vm *vm, struct machine *m, uint64_t id, uint32_t port,
		   uint32_t guest_port, int fd)
{
	struct vmsock_listener l = {0};
	bool accepted = false;

	pthread_mutex_lock(&s->lock);
	int i = listener_index(s, port);
	if (i >= 0)
		l = s->listeners[i];
	pthread_mutex_unlock(&s->lock);
	/* Removed since the guest connected, or the machine is gone: refused. */
	if (l.fn && m)
		accepted = l.fn(vm, fd, port, guest_port, l.ctx);
	if (!accepted)
		close(fd);
	if (m)
		machine_vsock_accept_done(m, id, accepted);
}

static void connect_end(vmk_vm *vm, const struct vmsock_connect *c, int fd, int error)
{
	vmk_error *err = NULL;

	switch (error) {
	case 0:
		break;
	case ECONNRESET:
		vmk_set_error(
		    &err, VMK_ERR_CONNECTION_RESET, "port",
		    "port: guest port %u reset the connection (nothing listens there, or it refused)",
		    c->port);
		break;
	case ENOTCONN:
		vmk_set_error(&err, VMK_ERR_CONNECTION_RESET, "port",
			      "port: guest port %u: the guest's vsock driver is not running", c->port);
		break;
	case ETIMEDOUT:
		vmk_set_error(&err, VMK_ERR_TIMEOUT, "port",
			      "port: guest port %u did not answer within %d ms", c->port,
			      VMK_SOCKET_CONNECT_TIMEOUT_MS);
		break;
	case ESHUTDOWN:
		vmk_set_error(&err, VMK_ERR_INVALID_STATE, "port",
			      "port: guest port %u: the VM stopped or rebooted first", c->port);
		break;
	default:
		vmk_set_errno(&err, VMK_ERR_INTERNAL, "port", error, "port: guest port %u", c->port);
		break;
	}
	c->fn(vm, fd, err, c->ctx);
	vmk_error_free(err);
}

void vmsock_connected(struct vmsock *s, vmk_vm *vm, uint64_t id, int fd, int error)
{
	for (unsigned i = 0; i < s->nconnects; i++) {
		if (s->connects[i].id != id)
			continue;
		struct vmsock_connect c = s->connects[i];
		s->connects[i] = s->connects[--s->nconnects];
		connect_end(vm, &c, fd, error);
		return;
	}
	/* Already ended (the machine went away first). */
	if (fd >= 0)
		close(fd);
}

void vmsock_machine_gone(struct vmsock *s, vmk_vm *vm)
{
	/* Taken out first: a callback may connect again (and is refused). */
	while (s->nconnects) {
		struct vmsock_connect c = s->connects[--s->nconnects];
		connect_end(vm, &c, -1, ESHUTDOWN);
	}
}
