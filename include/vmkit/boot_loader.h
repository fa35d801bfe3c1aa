/* Boot loaders (Apple: VZBootLoader, VZLinuxBootLoader, VZEFIBootLoader,
 * VZEFIVariableStore). */
#ifndef VMKIT_BOOT_LOADER_H
#define VMKIT_BOOT_LOADER_H

#include <stdbool.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_boot_loader vmk_boot_loader;

typedef enum vmk_boot_loader_kind {
	VMK_BOOT_LOADER_LINUX = 1,
	VMK_BOOT_LOADER_EFI = 2,
} vmk_boot_loader_kind;

/* Debian's OVMF build for QEMU's Q35 platform (package ovmf). */
#define VMK_EFI_DEFAULT_FIRMWARE       "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define VMK_EFI_DEFAULT_VARIABLE_STORE "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* Linux direct boot of an x86-64 bzImage (boot protocol 2.10 or later).
 * Paths are copied; files are read when the VM starts and checked by
 * vmk_config_validate(). Returns NULL only when out of memory. */
vmk_boot_loader *vmk_linux_boot_loader_new(const char *kernel_path);
/* Optional initial ramdisk, any compression the kernel supports. NULL clears. */
void vmk_linux_boot_loader_set_initrd(vmk_boot_loader *bl, const char *initrd_path);
/* Kernel command line; its length is checked against the kernel's limit. */
void vmk_linux_boot_loader_set_cmdline(vmk_boot_loader *bl, const char *cmdline);

/* UEFI firmware (OVMF) with its variable store, a file the firmware reads
 * and writes as flash; every change reaches the file atomically. The store
 * must exist when the VM starts (vmk_efi_variable_store_create). The
 * firmware defaults to VMK_EFI_DEFAULT_FIRMWARE. Checked by
 * vmk_config_validate(). Returns NULL only when out of memory. */
vmk_boot_loader *vmk_efi_boot_loader_new(const char *variable_store_path);
void vmk_efi_boot_loader_set_firmware(vmk_boot_loader *bl, const char *firmware_path);
const char *vmk_efi_boot_loader_get_firmware(const vmk_boot_loader *bl);
const char *vmk_efi_boot_loader_get_variable_store(const vmk_boot_loader *bl);

/* Creates a new variable store at path from a template (NULL:
 * VMK_EFI_DEFAULT_VARIABLE_STORE), with mode 0600. An existing file is an
 * error unless allow_overwrite; then an existing variable store is replaced
 * atomically and any other file is an error (left as it is). Apple:
 * VZEFIVariableStore(creatingVariableStoreAt:options:). */
bool vmk_efi_variable_store_create(const char *path, const char *template_path, bool allow_overwrite,
				   vmk_error **err);

vmk_boot_loader_kind vmk_boot_loader_get_kind(const vmk_boot_loader *bl);
const char *vmk_linux_boot_loader_get_kernel(const vmk_boot_loader *bl);
const char *vmk_linux_boot_loader_get_initrd(const vmk_boot_loader *bl);
const char *vmk_linux_boot_loader_get_cmdline(const vmk_boot_loader *bl);

vmk_boot_loader *vmk_boot_loader_copy(const vmk_boot_loader *bl);
void vmk_boot_loader_free(vmk_boot_loader *bl);

#ifdef __cplusplus
}
#endif
#endif
