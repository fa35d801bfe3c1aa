/* What firmware (OVMF) reads from fw_cfg on this machine: CPU count, RAM
 * size and map, the ACPI tables with the commands that relocate them, boot
 * order. */
#ifndef VMK_FIRMWARE_H
#define VMK_FIRMWARE_H

#include "arch/x86/acpi.h"
#include "arch/x86/smbios.h"
#include "core/memory.h"
#include "platform/fw_cfg.h"
#include <stdbool.h>
#include <vmkit/error.h>

/* BIOS linker/loader commands (QEMU hw/acpi/bios-linker-loader.c): 128
 * bytes each, little-endian, file names NUL-padded to 56 bytes. */
#define LOADER_ENTRY_LEN    128
#define LOADER_ALLOCATE	    1
#define LOADER_ADD_POINTER  2
#define LOADER_ADD_CHECKSUM 3
#define LOADER_ZONE_HIGH    1
#define LOADER_ZONE_FSEG    2

#define E820_ENTRY_LEN 20 /* le64 address, le64 length, le32 type */

/* The e820 map firmware sees: RAM below and above 4 GiB, plus the pages
 * KVM keeps for Intel's real-mode TSS. Returns the entry count. */
unsigned firmware_e820(const struct gmem *m, uint8_t *out, unsigned max);

/* Fills f. ap describes the machine (its links field is ignored). */
bool firmware_fw_cfg_setup(struct fw_cfg *f, const struct gmem *m, unsigned ncpus,
			   const struct acpi_params *ap, vmk_error **err);

/* Adds the SMBIOS tables as QEMU serves them ("etc/smbios/smbios-tables"
 * and a 3.0 "etc/smbios/smbios-anchor" whose maximum size is the tables'
 * length, which OVMF checks) and the UUID as FW_CFG_UUID. */
bool firmware_add_smbios(struct fw_cfg *f, const struct smbios_params *p, vmk_error **err);

#endif
