/* Checks of UEFI firmware and variable store files (efi.c), shared by
 * validation and the machine. */
#ifndef VMK_EFI_PRIV_H
#define VMK_EFI_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <vmkit/error.h>

/* Firmware and variable store together must fit between the top of the
 * LAPIC page area (0xff000000) and 4 GiB. */
#define EFI_FLASH_MAX (16ULL << 20)

/* The firmware image: a readable regular file of whole 4 KiB sectors
 * starting with a firmware volume. Sets *size. */
bool efi_check_firmware(const char *path, const char *field, uint64_t *size, vmk_error **err);
/* A variable store: a firmware volume of the system NV data kind, as big
 * as the file says; writable unless !need_write. Sets *size. */
bool efi_check_variable_store(const char *path, bool need_write, const char *field, uint64_t *size,
			      vmk_error **err);

#endif
