/* ACPI tables for the x86 machine: RSDP, XSDT, FADT, FACS, DSDT, MADT. */
#ifndef VMK_ACPI_H
#define VMK_ACPI_H

#include <stddef.h>
#include <stdint.h>

struct acpi_serial {
	uint16_t port;
	uint8_t irq;
};

/* Where acpi_build put guest-physical addresses and checksums, as offsets
 * into its buffer, so firmware can relocate the tables (the fw_cfg table
 * loader). Pointers come in patch order, checksums in the order they must
 * be computed (each after every pointer inside its range). */
#define ACPI_MAX_LINKS 24

struct acpi_links {
	struct {
		uint32_t offset;
		uint8_t size;
	} ptr[ACPI_MAX_LINKS];
	unsigned nptr;
	struct {
		uint32_t offset, start, length;
	} csum[ACPI_MAX_LINKS];
	unsigned ncsum;
	uint32_t rsdp_len; /* the RSDP is at offset 0 */
};

struct acpi_params {
	unsigned ncpus;	      /* Local APIC ids 0..ncpus-1, all enabled */
	uint32_t ioapic_addr; /* 0xfec00000 */
	uint32_t lapic_addr;  /* 0xfee00000 */
	uint16_t pm_base;     /* PM1a_EVT at +0, PM1a_CNT at +4, PM_TMR at +8, GPE0 at +0x20 */
	uint8_t sci_irq;      /* 9, level-triggered active-high (override in MADT) */
	uint16_t reset_port;  /* 0xcf9 */
	uint8_t reset_value;  /* 0x06 */
	uint8_t s5_slp_typ;   /* SLP_TYP for \_S5 */
	const struct acpi_serial *serial;
	unsigned nserial;
	/* PCI host bridge: ECAM base (0: no PCI) and the 32-bit MMIO window. */
	uint64_t ecam_base;
	uint32_t pci_win_base;
	uint32_t pci_win_size;
	/* Optional: filled with the pointer and checksum locations. */
	struct acpi_links *links;
};

/* Builds every table into buf, which the guest will see at guest-physical
 * address gpa; the RSDP is at offset 0 (16-byte aligned). Returns the number
 * of bytes used, or 0 if cap is too small. */
size_t acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_params *p);

/* The ACPI checksum: the byte that makes the sum of len bytes zero. */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

#endif
