/* ACPI tables as the guest finds them, the PM timer and S5 power-off. */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include "lib.h"

struct sdt {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

struct acpi_power {
	uint16_t pm1a_evt, pm1a_cnt, pm_tmr;
	bool tmr_32bit;
	bool s5_found;
	uint8_t slp_typ;
};

extern const uint8_t *boot_params;            /* the zero page */
static inline uint32_t bp32(unsigned off) { return *(const uint32_t *)(boot_params + off); }

uint8_t acpi_sum(const void *p, size_t len);
const uint8_t *acpi_find_rsdp(void);           /* NULL if not found */
const struct sdt *acpi_root(bool *is_xsdt);    /* XSDT, else RSDT */
unsigned acpi_root_count(const struct sdt *root, bool is_xsdt);
const struct sdt *acpi_root_entry(const struct sdt *root, bool is_xsdt, unsigned i);
const struct sdt *acpi_find_table(const char *sig);
const struct sdt *acpi_dsdt(void);
/* Finds \_S5_ in AML and decodes its first package element. */
bool acpi_find_s5(const struct sdt *dsdt, uint8_t *slp_typ);
/* Fills PM block ports from the FADT; reports a failed check if \_S5_ is missing. */
void acpi_power_info(struct acpi_power *pw);
void acpi_poweroff(const struct acpi_power *pw);

/* PM timer, 3.579545 MHz. */
uint32_t pmtmr_read(void);
uint64_t pmtmr_ticks_since(uint32_t start); /* handles one wrap */
void udelay(uint64_t us);
#define PMTMR_HZ 3579545ULL

#endif
