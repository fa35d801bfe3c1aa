/* The virtual machine and its lifecycle (Apple: VZVirtualMachine). */
#ifndef VMKIT_VM_H
#define VMKIT_VM_H

#include <stdbool.h>
#include <vmkit/config.h>
#include <vmkit/devices.h>
#include <vmkit/error.h>
#include <vmkit/network.h>
#include <vmkit/storage.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_vm vmk_vm;

typedef enum vmk_state {
	VMK_STATE_STOPPED = 0,
	VMK_STATE_STARTING,
	VMK_STATE_RUNNING,
	VMK_STATE_PAUSING,
	VMK_STATE_PAUSED,
	VMK_STATE_RESUMING,
	VMK_STATE_STOPPING,
	VMK_STATE_ERROR,
} vmk_state;

/* Why the VM last stopped. */
typedef enum vmk_stop_reason {
	VMK_STOP_REASON_NONE = 0,	/* has not stopped yet */
	VMK_STOP_REASON_GUEST_POWEROFF, /* ACPI S5, also after request_stop */
	VMK_STOP_REASON_GUEST_REBOOT,	/* reboot with VMK_REBOOT_STOP */
	VMK_STOP_REASON_TRIPLE_FAULT,	/* the vCPU shut down */
	VMK_STOP_REASON_INTERNAL_ERROR, /* KVM could not run the guest (emulation failure) */
	VMK_STOP_REASON_HOST_STOP,	/* vmk_vm_stop() */
	VMK_STOP_REASON_VMM_ERROR,	/* vmkit failed; see the error */
} vmk_stop_reason;

const char *vmk_state_name(vmk_state s);
const char *vmk_stop_reason_name(vmk_stop_reason r);

/* Callbacks run on the VM's own event thread, one at a time, in order; they
 * may call any vmk_vm_* function except vmk_vm_free and vmk_vm_wait. */
typedef struct vmk_observer {
	void (*state_changed)(vmk_vm *vm, vmk_state state, void *ctx);
	/* The guest stopped itself (poweroff, reboot with VMK_REBOOT_STOP) or
	 * was stopped by the host. */
	void (*did_stop)(vmk_vm *vm, vmk_stop_reason reason, void *ctx);
	/* The VM stopped because of an error (triple fault, KVM internal error,
	 * VMM failure); err is valid during the call. */
	void (*did_stop_with_error)(vmk_vm *vm, vmk_stop_reason reason, const vmk_error *err, void *ctx);
	/* The guest rebooted and the machine restarted in place. */
	void (*did_reboot)(vmk_vm *vm, void *ctx);
	/* Network device `index` (configuration order) lost its attachment: the
	 * peer closed the socket or the TAP interface was removed. The guest
	 * sees its link go down; the VM keeps running. Not called for
	 * vmk_vm_change_network_attachment. */
	void (*network_disconnected)(vmk_vm *vm, unsigned index, void *ctx);
	/* File system device `index` (configuration order) stopped serving its
	 * directories (the guest broke the protocol, or the server could not
	 * start); err says why. The VM keeps running; the guest's mount fails
	 * until its driver resets the device. */
	void (*directory_share_failed)(vmk_vm *vm, unsigned index, const vmk_error *err, void *ctx);
} vmk_observer;

/* Validates and copies the configuration: later changes to cfg do not
 * affect the VM. Checks that /dev/kvm can be used. */
vmk_vm *vmk_vm_new(const vmk_config *cfg, vmk_error **err);
/* Stops the VM if it runs and frees it. */
void vmk_vm_free(vmk_vm *vm);

/* Replaces the observer (copied); NULL removes it. */
void vmk_vm_set_observer(vmk_vm *vm, const vmk_observer *obs, void *ctx);

vmk_state vmk_vm_get_state(vmk_vm *vm);
bool vmk_vm_can_start(vmk_vm *vm);
bool vmk_vm_can_pause(vmk_vm *vm);
bool vmk_vm_can_resume(vmk_vm *vm);
bool vmk_vm_can_request_stop(vmk_vm *vm);
bool vmk_vm_can_stop(vmk_vm *vm);

/* Builds the machine and starts the vCPUs; returns once RUNNING (true) or
 * when the start failed (false; the VM goes back to STOPPED, or ERROR). */
bool vmk_vm_start(vmk_vm *vm, vmk_error **err);
/* Returns once every vCPU is parked (PAUSED) / running again (RUNNING). */
bool vmk_vm_pause(vmk_vm *vm, vmk_error **err);
bool vmk_vm_resume(vmk_vm *vm, vmk_error **err);
/* Presses the ACPI power button; the guest decides. Returns at once. */
bool vmk_vm_request_stop(vmk_vm *vm, vmk_error **err);
/* Pulls the plug; returns once STOPPED. */
bool vmk_vm_stop(vmk_vm *vm, vmk_error **err);

/* Run-time changes (beyond Apple). */
/* Replaces the media of storage device `index` (in configuration order) of a
 * running or paused VM; a = NULL ejects. The guest sees a capacity change. */
bool vmk_vm_change_storage_attachment(vmk_vm *vm, unsigned index, const vmk_storage_attachment *a,
				      vmk_error **err);
/* Replaces the attachment of network device `index` (configuration order)
 * of a running or paused VM (Apple: setting VZNetworkDevice.attachment);
 * a is copied as vmk_virtio_network_device_new copies it, a = NULL pulls
 * the cable. The old attachment is closed (frames in flight are dropped)
 * and the guest sees carrier go down, then up on the new one. The VM's
 * configuration follows: a guest reboot and a later start use the new
 * attachment. Not on a stopped VM (VMK_ERR_INVALID_STATE), as with storage.
 * Errors (field "network_devices[N].attachment"): no such device
 * (VMK_ERR_INVALID_ARGUMENT); the attachment does not open (the errors of
 * vmk_vm_start: missing bridge, no CAP_NET_ADMIN, closed socket); its MTU
 * differs from the one the guest read at boot; a device made with a TAP
 * or bridged attachment offered its driver checksum and TSO offloads, so
 * only a TAP or bridged attachment can follow (VMK_ERR_NETWORK_ATTACHMENT).
 * On an error before the swap nothing changes. */
bool vmk_vm_change_network_attachment(vmk_vm *vm, unsigned index, const vmk_network_attachment *a,
				      vmk_error **err);
/* Asks the guest's balloon driver to leave `bytes` of memory to the guest
 * (memory size minus target is reclaimed). */
bool vmk_vm_set_balloon_target(vmk_vm *vm, uint64_t bytes, vmk_error **err);
bool vmk_vm_get_balloon_stats(vmk_vm *vm, vmk_balloon_stats *stats, vmk_error **err);

/* Waits until the VM is STOPPED or in ERROR, up to timeout_ms (-1: forever).
 * Returns the stop reason, VMK_STOP_REASON_NONE on timeout. */
vmk_stop_reason vmk_vm_wait(vmk_vm *vm, int timeout_ms);
vmk_stop_reason vmk_vm_get_stop_reason(vmk_vm *vm);
/* The error that put the VM in ERROR, or NULL; owned by the VM. */
const vmk_error *vmk_vm_get_error(vmk_vm *vm);

#ifdef __cplusplus
}
#endif
#endif
