/* vmkit.t=acpi: RSDP, XSDT, checksums, MADT, FADT, \_S5_, PM timer. */
#include "acpi.h"
#include "apic.h"
#include "tests.h"

static void check_table(const struct sdt *t, const char *what)
{
	char name[48];
	snprintf(name, sizeof(name), "checksum-%s", what);
	if (!t || (uint64_t)t >= 0x100000000ULL || t->length < sizeof(*t) || t->length > (1 << 20)) {
		tap_fail(name, "table at %p unusable (length %u)", (const void *)t, t ? t->length : 0);
		return;
	}
	uint8_t s = acpi_sum(t, t->length);
	tap_check(s == 0, name, "%.4s at %p length %u sums to 0x%02x", t->sig, (const void *)t, t->length, s);
}

static void check_madt(void)
{
	const struct sdt *m = acpi_find_table("APIC");
	if (!m) {
		tap_fail("madt", "no APIC table");
		return;
	}
	tap_ok("madt");
	uint32_t lapic = *(const uint32_t *)((const uint8_t *)m + 36);
	tap_check(lapic == 0xfee00000, "madt-lapic-address", "0x%x", lapic);
	uint8_t ids[256];
	unsigned n = madt_lapics(ids, 256);
	uint64_t cpus;
	if (arg_u64("cpus", &cpus))
		tap_check(n == cpus, "madt-cpus", "%u enabled Local APIC entries, cpus=%lu", n, cpus);
	else
		tap_fail("madt-cpus", "no cpus= on the command line (%u enabled Local APICs)", n);
	const uint8_t *p = (const uint8_t *)m + 44, *end = (const uint8_t *)m + m->length;
	unsigned nio = 0;
	uint32_t ioaddr = 0;
	for (; p + 2 <= end && p[1] >= 2; p += p[1])
		if (p[0] == 1)
			nio++, ioaddr = *(const uint32_t *)(p + 4);
	tap_check(nio >= 1 && ioaddr == 0xfec00000, "madt-ioapic", "%u IOAPIC entries, address 0x%x", nio, ioaddr);
}

static void check_fadt(const struct acpi_power *pw)
{
	const uint8_t *f = (const uint8_t *)acpi_find_table("FACP");
	if (!f) {
		tap_fail("fadt", "no FACP table");
		return;
	}
	uint32_t len = ((const struct sdt *)f)->length;
	uint32_t flags = *(const uint32_t *)(f + 112);
	tap_check(!(flags & (1 << 4)), "fadt-fixed-power-button", "flags 0x%x: PWR_BUTTON (bit 4) set", flags);
	tap_check(pw->pm1a_evt && f[88] >= 4, "fadt-pm1a-evt", "PM1a_EVT_BLK 0x%x len %u", pw->pm1a_evt, f[88]);
	tap_check(pw->pm1a_cnt && f[89] >= 2, "fadt-pm1a-cnt", "PM1a_CNT_BLK 0x%x len %u", pw->pm1a_cnt, f[89]);
	tap_check(pw->pm_tmr && f[91] == 4, "fadt-pm-tmr", "PM_TMR_BLK 0x%x len %u", pw->pm_tmr, f[91]);
	printf("# fadt: pm1a_evt 0x%x pm1a_cnt 0x%x pm_tmr 0x%x sci %u flags 0x%x\n", pw->pm1a_evt, pw->pm1a_cnt,
	       pw->pm_tmr, *(const uint16_t *)(f + 46), flags);
	if (len >= 129) {
		const uint8_t *gas = f + 116;
		uint64_t addr = *(const uint64_t *)(gas + 4);
		tap_check((flags & (1 << 10)) && addr, "fadt-reset-reg",
			  "flags 0x%x (RESET_REG_SUP bit 10), reset reg space %u addr 0x%lx value 0x%x", flags, gas[0],
			  addr, f[128]);
	} else {
		tap_fail("fadt-reset-reg", "FADT too short (%u)", len);
	}
}

void test_acpi(void)
{
	const uint8_t *r = acpi_find_rsdp();
	if (!r) {
		tap_fail("rsdp", "no RSDP (acpi_rsdp_addr 0x%lx, nothing in 0xe0000-0xfffff)",
			 boot_params ? *(const uint64_t *)(boot_params + 0x70) : 0);
		return;
	}
	printf("# rsdp at %p revision %u\n", (const void *)r, r[15]);
	uint64_t bp_rsdp = boot_params ? *(const uint64_t *)(boot_params + 0x70) : 0;
	if (bp_rsdp)
		tap_check(bp_rsdp == (uint64_t)r, "bootparams-rsdp", "acpi_rsdp_addr 0x%lx has no valid RSDP", bp_rsdp);
	tap_check(acpi_sum(r, 20) == 0, "rsdp-checksum", "v1 checksum sums to 0x%02x", acpi_sum(r, 20));
	uint32_t xlen = *(const uint32_t *)(r + 20);
	tap_check(r[15] >= 2 && xlen >= 36 && acpi_sum(r, xlen) == 0, "rsdp-extended-checksum",
		  "revision %u length %u sums to 0x%02x", r[15], xlen, r[15] >= 2 ? acpi_sum(r, xlen < 36 ? 36 : xlen) : 0);
	bool is_x;
	const struct sdt *root = acpi_root(&is_x);
	tap_check(is_x, "xsdt-present", "no XSDT (revision %u, XsdtAddress 0x%lx)", r[15],
		  r[15] >= 2 ? *(const uint64_t *)(r + 24) : 0);
	if (root)
		tap_check(!memcmp(root->sig, is_x ? "XSDT" : "RSDT", 4), "root-signature", "%.4s", root->sig);
	check_table(root, is_x ? "XSDT" : "RSDT");
	unsigned n = acpi_root_count(root, is_x);
	tap_check(n > 0, "root-entries", "%u entries", n);
	for (unsigned i = 0; i < n; i++) {
		const struct sdt *t = acpi_root_entry(root, is_x, i);
		char name[8];
		snprintf(name, sizeof(name), "%.4s", t ? t->sig : "NULL");
		check_table(t, name);
	}
	const struct sdt *dsdt = acpi_dsdt();
	tap_check(dsdt && !memcmp(dsdt->sig, "DSDT", 4), "dsdt", "DSDT at %p", (const void *)dsdt);
	if (dsdt && !memcmp(dsdt->sig, "DSDT", 4))
		check_table(dsdt, "DSDT");
	check_madt();
	struct acpi_power pw;
	acpi_power_info(&pw);
	check_fadt(&pw);
	if (pw.s5_found) {
		char name[32];
		snprintf(name, sizeof(name), "s5-package slp_typ=%u", pw.slp_typ);
		tap_ok(name);
	}
	uint32_t t0 = pmtmr_read();
	for (volatile int i = 0; i < 2000; i++)
		;
	uint32_t t1 = pmtmr_read();
	tap_check(t0 != t1, "pm-timer-advances", "PM_TMR at 0x%x read 0x%x then 0x%x", pw.pm_tmr, t0, t1);
}
