/* The host–guest socket device's configuration (Apple:
 * VZVirtioSocketDeviceConfiguration) and its unix-socket forwards, checked
 * as they are added. The paths vmkit listens on are checked on the host
 * when the VM starts (virtio/vsock.c): another VM may free or take one
 * between configuration and start. */
#include "config/config_priv.h"
#include "util/error_priv.h"
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

vmk_socket_device *vmk_socket_device_new(void)
{
	vmk_socket_device *d = calloc(1, sizeof(*d));

	if (d)
		d->guest_cid = VSOCK_DEFAULT_GUEST_CID;
	return d;
}

void vmk_socket_device_free(vmk_socket_device *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nforwards; i++)
		free(d->forwards[i].path);
	free(d->hybrid_path);
	free(d);
}

struct vmk_socket_device *vmk_socket_device_copy(const struct vmk_socket_device *d)
{
	vmk_socket_device *c = vmk_socket_device_new();

	if (!c)
		return NULL;
	c->guest_cid = d->guest_cid;
	for (size_t i = 0; i < d->nforwards; i++) {
		c->forwards[i] = d->forwards[i];
		if (!(c->forwards[i].path = strdup(d->forwards[i].path))) {
			vmk_socket_device_free(c);
			return NULL;
		}
		c->nforwards++;
	}
	if (d->hybrid_path && !(c->hybrid_path = strdup(d->hybrid_path))) {
		vmk_socket_device_free(c);
		return NULL;
	}
	return c;
}

bool vmk_socket_device_set_guest_cid(vmk_socket_device *d, uint32_t cid, vmk_error **err)
{
	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "socket_device", "socket device is NULL");
	if (cid < 3 || cid == UINT32_MAX)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "guest_cid",
				     "guest_cid: %u is reserved (use 3 to 4294967294)", cid);
	d->guest_cid = cid;
	return true;
}

uint32_t vmk_socket_device_get_guest_cid(const vmk_socket_device *d)
{
	return d ? d->guest_cid : 0;
}

size_t vmk_socket_device_get_forward_count(const vmk_socket_device *d)
{
	return d ? d->nforwards : 0;
}

/* A path vmkit listens on may be bound once: a second bind would fail at
 * start, or (replacing the first socket) leave the first forward dead. */
static bool listen_path_free(const vmk_socket_device *d, const char *path, vmk_error **err)
{
	for (size_t i = 0; i < d->nforwards; i++)
		if (d->forwards[i].mode == VMK_SOCKET_FORWARD_HOST_TO_GUEST &&
		    strcmp(d->forwards[i].path, path) == 0)
			return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "path",
					     "path: %s is already the listening socket of port %u", path,
					     d->forwards[i].port);
	if (d->hybrid_path && strcmp(d->hybrid_path, path) == 0)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "path",
				     "path: %s is already the hybrid socket", path);
	return true;
}

static bool check_path(const char *path, vmk_error **err)
{
	if (!path || !*path)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "path", "path: empty");
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "path",
				     "path: %s is longer than a unix socket address allows (107 bytes)",
				     path);
	return true;
}

bool vmk_socket_device_add_unix_forward(vmk_socket_device *d, uint32_t port, const char *path,
					vmk_socket_forward_mode mode, vmk_error **err)
{
	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "socket_device", "socket device is NULL");
	if (mode != VMK_SOCKET_FORWARD_GUEST_TO_HOST && mode != VMK_SOCKET_FORWARD_HOST_TO_GUEST)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "mode", "mode: %d is not a forward mode",
				     (int)mode);
	if (port == 0 || port == UINT32_MAX)
		return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "port", "port: %u is reserved", port);
	if (!check_path(path, err))
		return false;
	for (size_t i = 0; i < d->nforwards; i++)
		if (d->forwards[i].port == port && d->forwards[i].mode == mode)
			return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "port",
					     "port: %u is already forwarded (%s)", port, d->forwards[i].path);
	if (mode == VMK_SOCKET_FORWARD_HOST_TO_GUEST && !listen_path_free(d, path, err))
		return false;
	if (d->nforwards == VMK_SOCKET_MAX_FORWARDS)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "forwards", "forwards: at most %d",
				     VMK_SOCKET_MAX_FORWARDS);
	char *p = strdup(path);
	if (!p)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "path", "out of memory");
	d->forwards[d->nforwards++] = (struct socket_forward){.port = port, .mode = mode, .path = p};
	return true;
}

bool vmk_socket_device_set_hybrid_path(vmk_socket_device *d, const char *path, vmk_error **err)
{
	char *p = NULL;

	if (!d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "socket_device", "socket device is NULL");
	if (path) {
		/* Firecracker's guest-initiated connections go to PATH_PORT: room
		 * for "_4294967294" is left in the address. */
		if (!check_path(path, err))
			return false;
		if (strlen(path) + 11 >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return vmk_set_error(err, VMK_ERR_SOCKET_DEVICE, "hybrid_path",
					     "hybrid_path: %s leaves no room for a port suffix (at most 96 "
					     "bytes)",
					     path);
		if ((!d->hybrid_path || strcmp(d->hybrid_path, path) != 0) && !listen_path_free(d, path, err))
			return false;
		if (!(p = strdup(path)))
			return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "hybrid_path", "out of memory");
	}
	free(d->hybrid_path);
	d->hybrid_path = p;
	return true;
}

const char *vmk_socket_device_get_hybrid_path(const vmk_socket_device *d)
{
	return d ? d->hybrid_path : NULL;
}

bool vmk_config_add_socket_device(vmk_config *cfg, const vmk_socket_device *d, vmk_error **err)
{
	if (!cfg || !d)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "socket_device",
				     "configuration or socket device is NULL");
	if (cfg->vsock)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "socket_device",
				     "socket_device: a VM has at most one");
	if (!(cfg->vsock = vmk_socket_device_copy(d)))
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "socket_device", "out of memory");
	return true;
}
