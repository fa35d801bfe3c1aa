/* vmkit errors: a code, the configuration field concerned and a message that
 * names the offending value. validate() chains every problem it finds. */
#ifndef VMKIT_ERROR_H
#define VMKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vmk_error_code {
	VMK_ERR_NONE = 0,
	VMK_ERR_INTERNAL,	  /* a bug or an unexpected host failure */
	VMK_ERR_INVALID_ARGUMENT, /* NULL handle, bad enum value */
	VMK_ERR_CPU_COUNT,	  /* 0 or above what KVM allows */
	VMK_ERR_MEMORY_TOO_SMALL, /* below vmk_config_min_memory_size() */
	VMK_ERR_MEMORY_ALIGNMENT, /* not a multiple of 1 MiB */
	VMK_ERR_MEMORY_TOO_LARGE, /* above host memory */
	VMK_ERR_NO_BOOT_LOADER,
	VMK_ERR_KERNEL_UNREADABLE, /* missing, a directory, no permission */
	VMK_ERR_KERNEL_FORMAT,	   /* not an x86-64 bzImage of protocol 2.10+ */
	VMK_ERR_INITRD_UNREADABLE,
	VMK_ERR_CMDLINE_TOO_LONG,  /* longer than the kernel's cmdline_size */
	VMK_ERR_SERIAL_PORT,	   /* bad serial port configuration */
	VMK_ERR_SERIAL_ATTACHMENT, /* bad fd, unwritable log path */
	VMK_ERR_LIMIT_EXCEEDED,	   /* too many devices of a kind */
	VMK_ERR_NO_KVM,		   /* /dev/kvm missing */
	VMK_ERR_KVM_PERMISSION,	   /* /dev/kvm not accessible */
	VMK_ERR_KVM,		   /* a KVM ioctl failed */
	VMK_ERR_OUT_OF_MEMORY,
	VMK_ERR_INVALID_STATE, /* the call is not allowed in the VM's state */
	VMK_ERR_NOT_SUPPORTED,
	VMK_ERR_TIMEOUT,
	VMK_ERR_STORAGE_ATTACHMENT, /* missing, a directory, no permission, not a block device, bad size, in
				       use */
	VMK_ERR_DEVICE_IDENTIFIER,  /* longer than the device allows or not printable ASCII */
	VMK_ERR_NETWORK_ATTACHMENT, /* not a connected datagram socket, bad MTU, no TAP or bridge, no
				       CAP_NET_ADMIN, does not fit a running device (MTU, offloads) */
	VMK_ERR_MAC_ADDRESS,	    /* not six hex octets, or multicast */
	VMK_ERR_FIRMWARE,	    /* UEFI firmware missing, unreadable, wrong size, not a firmware volume */
	VMK_ERR_VARIABLE_STORE,	    /* missing, not a variable store, read-only, exists (create), in use */
	VMK_ERR_SOCKET_DEVICE, /* bad guest CID or port, path too long, duplicate forward, listen path in use
				*/
	VMK_ERR_FS_DEVICE,     /* bad tag or directory name, duplicate tag or name, directory missing or not
				  a directory */
	VMK_ERR_CONNECTION_RESET, /* the guest refused a socket connection or reset it */
	VMK_ERR__COUNT
} vmk_error_code;

typedef struct vmk_error vmk_error;

vmk_error_code vmk_error_get_code(const vmk_error *err);
/* Stable identifier of the code, e.g. "cpu-count". */
const char *vmk_error_code_name(vmk_error_code code);
/* The configuration field concerned ("memory_size", "boot_loader.kernel"), or "". */
const char *vmk_error_get_field(const vmk_error *err);
/* Human-readable, one line, names the field and the offending value. */
const char *vmk_error_get_message(const vmk_error *err);
/* The next problem found by the same call, or NULL. */
const vmk_error *vmk_error_next(const vmk_error *err);
/* Frees the whole chain. NULL is fine. */
void vmk_error_free(vmk_error *err);

#ifdef __cplusplus
}
#endif
#endif
