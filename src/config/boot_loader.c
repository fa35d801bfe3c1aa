/* Boot loaders (Apple: VZLinuxBootLoader, VZEFIBootLoader): paths and a command line, copied
 * on every set so the caller's buffers never outlive their use. */
#include <stdlib.h>
#include <string.h>

#include "config/config_priv.h"

/* Replaces *slot with a copy of value; keeps the old string if strdup fails
 * because the setters have no way to report an error. */
static void replace(char **slot, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return;
	}
	free(*slot);
	*slot = copy;
}

vmk_boot_loader *vmk_linux_boot_loader_new(const char *kernel_path)
{
	struct vmk_boot_loader *bl = calloc(1, sizeof(*bl));

	if (!bl)
		return NULL;
	bl->kind = VMK_BOOT_LOADER_LINUX;
	bl->kernel = strdup(kernel_path ? kernel_path : "");
	bl->cmdline = strdup("");
	if (!bl->kernel || !bl->cmdline) {
		vmk_boot_loader_free(bl);
		return NULL;
	}
	return bl;
}

void vmk_linux_boot_loader_set_initrd(vmk_boot_loader *bl, const char *initrd_path)
{
	if (bl)
		replace(&bl->initrd, initrd_path);
}

void vmk_linux_boot_loader_set_cmdline(vmk_boot_loader *bl, const char *cmdline)
{
	if (bl)
		replace(&bl->cmdline, cmdline ? cmdline : "");
}

vmk_boot_loader_kind vmk_boot_loader_get_kind(const vmk_boot_loader *bl)
{
	return bl ? bl->kind : 0;
}

const char *vmk_linux_boot_loader_get_kernel(const vmk_boot_loader *bl)
{
	return bl ? bl->kernel : NULL;
}

const char *vmk_linux_boot_loader_get_initrd(const vmk_boot_loader *bl)
{
	return bl ? bl->initrd : NULL;
}

const char *vmk_linux_boot_loader_get_cmdline(const vmk_boot_loader *bl)
{
	return bl ? bl->cmdline : NULL;
}

static bool copy_str(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

vmk_boot_loader *vmk_boot_loader_copy(const vmk_boot_loader *bl)
{
	struct vmk_boot_loader *copy;

	if (!bl)
		return NULL;
	copy = calloc(1, sizeof(*copy));
	if (!copy)
		return NULL;
	copy->kind = bl->kind;
	if (!copy_str(&copy->kernel, bl->kernel) || !copy_str(&copy->initrd, bl->initrd) ||
	    !copy_str(&copy->cmdline, bl->cmdline) || !copy_str(&copy->firmware, bl->firmware) ||
	    !copy_str(&copy->variable_store, bl->variable_store)) {
		vmk_boot_loader_free(copy);
		return NULL;
	}
	return copy;
}

vmk_boot_loader *vmk_efi_boot_loader_new(const char *variable_store_path)
{
	struct vmk_boot_loader *bl = calloc(1, sizeof(*bl));

	if (!bl)
		return NULL;
	bl->kind = VMK_BOOT_LOADER_EFI;
	bl->firmware = strdup(VMK_EFI_DEFAULT_FIRMWARE);
	bl->variable_store = strdup(variable_store_path ? variable_store_path : "");
	if (!bl->firmware || !bl->variable_store) {
		vmk_boot_loader_free(bl);
		return NULL;
	}
	return bl;
}

void vmk_efi_boot_loader_set_firmware(vmk_boot_loader *bl, const char *firmware_path)
{
	if (bl && bl->kind == VMK_BOOT_LOADER_EFI)
		replace(&bl->firmware, firmware_path ? firmware_path : VMK_EFI_DEFAULT_FIRMWARE);
}

const char *vmk_efi_boot_loader_get_firmware(const vmk_boot_loader *bl)
{
	return bl ? bl->firmware : NULL;
}

const char *vmk_efi_boot_loader_get_variable_store(const vmk_boot_loader *bl)
{
	return bl ? bl->variable_store : NULL;
}

void vmk_boot_loader_free(vmk_boot_loader *bl)
{
	if (!bl)
		return;
	free(bl->kernel);
	free(bl->initrd);
	free(bl->cmdline);
	free(bl->firmware);
	free(bl->variable_store);
	free(bl);
}
