/* Linux direct boot: bzImage, initrd and command line into guest RAM. */
#ifndef VMK_LINUX_H
#define VMK_LINUX_H

#include "config/config_priv.h"
#include "core/memory.h"
#include <asm/bootparam.h>
#include <stdbool.h>
#include <vmkit/error.h>

struct linux_boot {
	uint64_t entry;	    /* 64-bit entry point */
	uint64_t zero_page; /* boot_params, passed in RSI */
	uint64_t initrd_gpa;
	uint64_t initrd_size;
};

/* Loads everything and fills the zero page. rsdp is the ACPI RSDP address. */
bool linux_load(const struct gmem *m, const struct vmk_boot_loader *bl, uint64_t rsdp, struct linux_boot *out,
		vmk_error **err);

/* The e820 map of this machine's RAM layout; returns the entry count. */
unsigned linux_e820(const struct gmem *m, struct boot_e820_entry *e, unsigned max);

/* Where the initrd goes: highest 2 MiB... 4 KiB-aligned spot ending at or
 * below limit and above kernel_end, inside low RAM. 0 if it does not fit. */
uint64_t linux_initrd_addr(const struct gmem *m, uint64_t kernel_end, uint64_t initrd_addr_max,
			   uint64_t size);

#endif
