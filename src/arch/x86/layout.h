/* Guest-physical layout of the x86 machine (Q35/ICH9-like; docs/design.md). */
#ifndef VMK_LAYOUT_H
#define VMK_LAYOUT_H

#define LAYOUT_BOOT_GDT	    0x00000500ULL
#define LAYOUT_ZERO_PAGE    0x00007000ULL /* struct boot_params */
#define LAYOUT_PML4	    0x00009000ULL
#define LAYOUT_PDPT	    0x0000a000ULL
#define LAYOUT_PD	    0x0000b000ULL /* 4 pages: identity map of 4 GiB */
#define LAYOUT_CMDLINE	    0x00020000ULL
#define LAYOUT_CMDLINE_MAX  0x00010000ULL
#define LAYOUT_EBDA	    0x0009fc00ULL
#define LAYOUT_LOWMEM_END   0x000a0000ULL
#define LAYOUT_BIOS_AREA    0x000e0000ULL /* to 1 MiB: e820-reserved, scanned by Linux */
#define LAYOUT_ACPI	    0x000e0000ULL /* RSDP + tables (3 KiB with 255 CPUs) */
#define LAYOUT_ACPI_SIZE    0x00010000ULL
#define LAYOUT_SMBIOS	    0x000f0000ULL /* "_SM3_" entry point + tables (direct boot) */
#define LAYOUT_SMBIOS_SIZE  0x00010000ULL
#define LAYOUT_KERNEL	    0x00100000ULL /* default 64-bit kernel load address */
#define LAYOUT_MEM32_END    0x80000000ULL /* RAM below 4 GiB stops here */
#define LAYOUT_ECAM	    0xb0000000ULL /* PCI ECAM, 256 MiB */
#define LAYOUT_ECAM_SIZE    0x10000000ULL
#define LAYOUT_PCI_WIN	    0xc0000000ULL /* 32-bit BARs, up to the IOAPIC */
#define LAYOUT_PCI_WIN_SIZE 0x3ec00000ULL
#define LAYOUT_IOAPIC	    0xfec00000ULL
#define LAYOUT_LAPIC	    0xfee00000ULL
#define LAYOUT_HIGHMEM	    0x100000000ULL

/* Ports for I/O BARs: where OVMF puts them on Q35 (its PCI I/O aperture), so
 * direct boot and firmware agree; inside the DSDT's 0x0d00-0xffff window. */
#define LAYOUT_PCI_IO	   0x6000
#define LAYOUT_PCI_IO_SIZE 0xa000
#define LAYOUT_PM_BASE	   0x600 /* ICH9 ACPI PM I/O base as QEMU/OVMF use it */
#define LAYOUT_RESET_PORT  0xcf9 /* ICH9 reset control register */
#define LAYOUT_SCI_IRQ	   9

#endif
