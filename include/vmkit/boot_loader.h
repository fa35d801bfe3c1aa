/* Boot loaders (Apple: VZBootLoader, VZLinuxBootLoader). */
#ifndef VMKIT_BOOT_LOADER_H
#define VMKIT_BOOT_LOADER_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_boot_loader vmk_boot_loader;

typedef enum vmk_boot_loader_kind {
	VMK_BOOT_LOADER_LINUX = 1,
} vmk_boot_loader_kind;

/* Linux direct boot of an x86-64 bzImage (boot protocol 2.10 or later).
 * Paths are copied; files are read when the VM starts and checked by
 * vmk_config_validate(). Returns NULL only when out of memory. */
vmk_boot_loader *vmk_linux_boot_loader_new(const char *kernel_path);
/* Optional initial ramdisk, any compression the kernel supports. NULL clears. */
void vmk_linux_boot_loader_set_initrd(vmk_boot_loader *bl, const char *initrd_path);
/* Kernel command line; its length is checked against the kernel's limit. */
void vmk_linux_boot_loader_set_cmdline(vmk_boot_loader *bl, const char *cmdline);

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
