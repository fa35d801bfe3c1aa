/* The VM's run-time sockets (include/vmkit/socket.h): the application's
 * listeners, which outlive the machines of a VM's starts and reboots, and
 * its connects waiting for the guest. vm.c owns one and calls in; the
 * socket device reaches it through struct machine_events. */
#ifndef VMK_VMSOCK_H
#define VMK_VMSOCK_H

#include "config/config_priv.h"
#include "vm/machine.h"
#include <vmkit/socket.h>

struct vmsock;

struct vmsock *vmsock_new(void);
void vmsock_free(struct vmsock *s);

/* Any thread (the device asks on the I/O thread): look-ups only. */
bool vmsock_has_listener(struct vmsock *s, uint32_t port);
uint64_t vmsock_new_id(struct vmsock *s);

/* The VM's event thread. cfg: the VM's configuration. */
bool vmsock_set_listener(struct vmsock *s, const struct vmk_config *cfg, uint32_t port,
			 vmk_socket_accept_fn fn, void *ctx, vmk_error **err);
bool vmsock_remove_listener(struct vmsock *s, uint32_t port, vmk_error **err);
/* m: the running machine. */
bool vmsock_connect(struct vmsock *s, struct machine *m, uint32_t port, vmk_socket_connect_fn fn, void *ctx,
		    vmk_error **err);
/* From the device (through machine_events), with the current machine or
 * NULL: fd is owned here. */
void vmsock_accept(struct vmsock *s, vmk_vm *vm, struct machine *m, uint64_t id, uint32_t port,
		   uint32_t guest_port, int fd);
void vmsock_connected(struct vmsock *s, vmk_vm *vm, uint64_t id, int fd, int error);
/* The machine went away (stop, reboot, free): every connect still waiting
 * ends with VMK_ERR_INVALID_STATE. */
void vmsock_machine_gone(struct vmsock *s, vmk_vm *vm);

#endif
