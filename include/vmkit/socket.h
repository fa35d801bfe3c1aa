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
 *       there is replaced, a socket something listens on and any other file
 *       refused); each client is joined to a new connection to the guest's
 *       port N. A path may be listened on once per device.
 * Flow control is the device's credit scheme end to end: a slow reader on
 * either side slows the writer, nothing is buffered without bound.
 *
 * Firecracker's hybrid socket (an extension, vmk_socket_device_set_hybrid_path):
 * vmkit listens on PATH; a client writes "CONNECT <port>\n" (one line of at
 * most 32 bytes, within 5 s), gets "OK <host port>\n" once the guest
 * accepts (its side's ephemeral port) and then the stream, or the
 * connection closed if the guest refuses. A guest connecting to a host port
 * nothing else serves is joined to the unix socket PATH_<port>, as
 * Firecracker does.
 *
 * At run time (below) an application listens on host ports and connects
 * to guest ports as with Apple's VZVirtioSocketDevice; every connection is
 * handed over as a file descriptor of a connected stream socket (one end
 * of a socketpair) that the application reads, writes and closes. */
#ifndef VMKIT_SOCKET_H
#define VMKIT_SOCKET_H

#include <stdbool.h>
#include <stdint.h>
#include <vmkit/config.h>
#include <vmkit/error.h>
#include <vmkit/vm.h>

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

/* Firecracker's hybrid socket at path (at most 96 bytes, so that
 * PATH_<port> fits; not a forward's listening path); NULL removes it. */
bool vmk_socket_device_set_hybrid_path(vmk_socket_device *dev, const char *path, vmk_error **err);
const char *vmk_socket_device_get_hybrid_path(const vmk_socket_device *dev);

/* Adds a copy of the device (at most one per VM). */
bool vmk_config_add_socket_device(vmk_config *cfg, const vmk_socket_device *dev, vmk_error **err);

/* --- Run time (Apple: VZVirtioSocketDevice, VZVirtioSocketListener) ---
 *
 * Callbacks run on the VM's event thread, the observer's (vm.h), one at a
 * time; they may call vmk_vm_* functions (not vmk_vm_free or vmk_vm_wait)
 * and must not block: the guest's connect waits for the decision. */

#define VMK_SOCKET_MAX_LISTENERS 64
/* A guest that does not answer a connection within this is given up on. */
#define VMK_SOCKET_CONNECT_TIMEOUT_MS 10000

/* A guest connected to host port `port` from its port `guest_port` (Apple:
 * listener:shouldAcceptNewConnection:fromSocketDevice:). fd is the
 * application's end, blocking, close-on-exec. Return true to accept: the
 * application owns fd and closes it when done; the guest's connect
 * succeeds. Return false to refuse: vmkit closes fd and the guest's
 * connect fails with ECONNRESET. */
typedef bool (*vmk_socket_accept_fn)(vmk_vm *vm, int fd, uint32_t port, uint32_t guest_port, void *ctx);

/* Listens on host port `port` (1 to 0xfffffffe), replacing the port's
 * listener if it has one (Apple: setSocketListener:forPort:). Any VM state:
 * listeners outlive guest reboots and stops. Refused (VMK_ERR_SOCKET_DEVICE)
 * for a VM without a socket device and for a port a configured forward
 * serves (VMK_SOCKET_FORWARD_GUEST_TO_HOST); at most
 * VMK_SOCKET_MAX_LISTENERS ports. */
bool vmk_vm_socket_set_listener(vmk_vm *vm, uint32_t port, vmk_socket_accept_fn accept, void *ctx,
				vmk_error **err);
/* Once this returns, accept is not called again for the port (Apple:
 * removeSocketListenerForPort:); guests connecting there are reset.
 * Connections already accepted stay. VMK_ERR_INVALID_ARGUMENT when the port
 * has no listener. */
bool vmk_vm_socket_remove_listener(vmk_vm *vm, uint32_t port, vmk_error **err);

/* The end of vmk_vm_socket_connect: fd >= 0 is the application's end of the
 * connection (blocking, close-on-exec; the application closes it), or fd
 * is -1 and err says why: VMK_ERR_CONNECTION_RESET (nobody listens on the
 * port, the guest refused, its driver reset), VMK_ERR_TIMEOUT (no answer
 * within VMK_SOCKET_CONNECT_TIMEOUT_MS), VMK_ERR_INVALID_STATE (the VM
 * stopped or rebooted first). err is valid during the call. */
typedef void (*vmk_socket_connect_fn)(vmk_vm *vm, int fd, const vmk_error *err, void *ctx);

/* Connects to the guest's port `port` (Apple: connectToPort:
 * completionHandler:). Returns at once. true: done will be called exactly
 * once, on the VM's event thread, also if the VM stops first. false (err
 * set, done never called): no socket device (VMK_ERR_SOCKET_DEVICE), the VM
 * is not running or paused (VMK_ERR_INVALID_STATE), a reserved port,
 * VMK_SOCKET_MAX_CONNECTS connections still waiting for the guest
 * (VMK_ERR_LIMIT_EXCEEDED). */
#define VMK_SOCKET_MAX_CONNECTS 256
bool vmk_vm_socket_connect(vmk_vm *vm, uint32_t port, vmk_socket_connect_fn done, void *ctx, vmk_error **err);

#ifdef __cplusplus
}
#endif
#endif
