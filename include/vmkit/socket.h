/* Host–guest sockets (Apple: VZVirtioSocketDeviceConfiguration; one per VM).
 * The guest sees a virtio-vsock device; the host is CID 2, the guest CID 3
 * unless set. Stream sockets.
 *
 * Unix-socket forwards are what vfkit's `--device virtio-vsock,port=N,
 * socketURL=PATH[,listen|connect]` gives its clients:
 *   VMK_SOCKET_FORWARD_GUEST_TO_HOST  (vfkit's `listen`, its default) a guest
 *       connecting to host port N is joined to a new connection to the unix
 *       socket PATH (reset when nothing listens there);
 *   VMK_SOCKET_FORWARD_HOST_TO_GUEST  (vfkit's `connect`) vmkit listens on
 *       PATH (made when the VM starts, removed when it stops; a stale socket
 *       there is replaced, any other file refused); each client is joined to
 *       a new connection to the guest's port N.
 * Flow control is the device's credit scheme end to end: a slow reader on
 * either side slows the writer, nothing is buffered without bound. */
#ifndef VMKIT_SOCKET_H
#define VMKIT_SOCKET_H

#include <stdbool.h>
#include <stdint.h>
#include <vmkit/config.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_socket_device vmk_socket_device;

typedef enum vmk_socket_forward_mode {
	VMK_SOCKET_FORWARD_GUEST_TO_HOST = 1,
	VMK_SOCKET_FORWARD_HOST_TO_GUEST = 2,
} vmk_socket_forward_mode;

#define VMK_SOCKET_MAX_FORWARDS 64

vmk_socket_device *vmk_socket_device_new(void);
void vmk_socket_device_free(vmk_socket_device *dev);
/* The guest's context id: 3 to 0xfffffffe (0-2 and -1 are reserved). */
bool vmk_socket_device_set_guest_cid(vmk_socket_device *dev, uint32_t cid, vmk_error **err);
uint32_t vmk_socket_device_get_guest_cid(const vmk_socket_device *dev);
/* Adds a forward of port (1 to 0xfffffffe) to the unix socket at path (an
 * absolute or relative path, at most 107 bytes). A port may be forwarded
 * once per mode. */
bool vmk_socket_device_add_unix_forward(vmk_socket_device *dev, uint32_t port, const char *path,
					vmk_socket_forward_mode mode, vmk_error **err);
size_t vmk_socket_device_get_forward_count(const vmk_socket_device *dev);

/* Adds a copy of the device (at most one per VM). */
bool vmk_config_add_socket_device(vmk_config *cfg, const vmk_socket_device *dev, vmk_error **err);

#ifdef __cplusplus
}
#endif
#endif
