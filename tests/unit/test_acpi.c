/* Unit test of the ACPI tables: checksums, pointers, FADT fields, MADT
 * entries and the \_S5_ package in the DSDT's AML. */
#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"

#include "check.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t buf[LAYOUT_ACPI_SIZE];
static const uint64_t base = LAYOUT_ACPI;
static size_t used;

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Returns the table at guest address gpa if it lies wholly in the buffer. */
static const uint8_t *at(uint64_t gpa, size_t len)
{
	if (gpa < base || gpa - base > used || len > used - (gpa - base))
		return NULL;
	return buf + (gpa - base);
}

static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(gpa, 36);
	if (!t || memcmp(t, sig, 4))
		return NULL;
	uint32_t len = get32(t + 4);
	if (!at(gpa, len))
		return NULL;
	CHECK(acpi_checksum(t, len) == 0, "%s checksum", sig);
	CHECK(!memcmp(t + 10, "VMKIT ", 6), "%s OEM id", sig);
	return t;
}

static const struct acpi_serial serial[] = {{0x3f8, 4}, {0x2f8, 3}};

static struct acpi_params params(unsigned ncpus)
{
	return (struct acpi_params){
	    .ncpus = ncpus,
	    .ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
	    .lapic_addr = (uint32_t)LAYOUT_LAPIC,
	    .pm_base = LAYOUT_PM_BASE,
	    .sci_irq = LAYOUT_SCI_IRQ,
	    .reset_port = LAYOUT_RESET_PORT,
	    .reset_value = 0x06,
	    .s5_slp_typ = 5,
	    .serial = serial,
	    .nserial = 2,
	};
}

static void check_gas(const uint8_t *g, unsigned bits, uint64_t addr, const char *what)
{
	CHECK(g[0] == 1 && g[1] == bits && get64(g + 4) == addr, "FADT %s GAS: SystemIO, %u bits at 0x%llx",
	      what, bits, (unsigned long long)addr);
}

static void check_fadt(const uint8_t *f, const struct acpi_params *p)
{
	uint16_t pm = p->pm_base;
	CHECK(get32(f + 4) == 276 && f[8] == 6, "FADT revision 6, 276 bytes");
	CHECK(get16(f + 46) == p->sci_irq, "FADT SCI_INT");
	CHECK(get32(f + 48) == 0, "FADT SMI_CMD 0 (ACPI always enabled)");
	CHECK(get32(f + 56) == pm && f[88] == 4, "FADT PM1a_EVT_BLK");
	CHECK(get32(f + 64) == pm + 4u && f[89] == 2, "FADT PM1a_CNT_BLK");
	CHECK(get32(f + 76) == pm + 8u && f[91] == 4, "FADT PM_TMR_BLK");
	CHECK(get32(f + 80) == pm + 0x20u && f[92] == 16, "FADT GPE0_BLK");
	check_gas(f + 148, 32, pm, "X_PM1a_EVT_BLK");
	check_gas(f + 172, 16, pm + 4u, "X_PM1a_CNT_BLK");
	check_gas(f + 208, 32, pm + 8u, "X_PM_TMR_BLK");
	check_gas(f + 220, 128, pm + 0x20u, "X_GPE0_BLK");
	uint32_t flags = get32(f + 112);
	CHECK(!(flags & (1u << 4)), "FADT fixed-hardware power button");
	CHECK(flags & (1u << 5), "FADT no sleep button");
	CHECK(!(flags & (1u << 8)), "FADT 24-bit PM timer");
	CHECK(flags & (1u << 10), "FADT RESET_REG_SUP");
	check_gas(f + 116, 8, p->reset_port, "RESET_REG");
	CHECK(f[128] == p->reset_value, "FADT RESET_VALUE");
	CHECK(get16(f + 109) & 2, "FADT IAPC_BOOT_ARCH 8042");
	CHECK(f[108] == 0x32, "FADT CENTURY");

	uint64_t facs = get32(f + 36) ? get32(f + 36) : get64(f + 132);
	const uint8_t *fc = at(facs, 64);
	CHECK(fc && !memcmp(fc, "FACS", 4) && get32(fc + 4) == 64 && facs % 64 == 0, "FACS 64-byte aligned");
	CHECK(get32(f + 40) == get64(f + 140), "DSDT and X_DSDT agree");
}

/* Finds Name(\_S5_, Package(4) {...}) in the AML and decodes its first two
 * elements, following the AML integer and PkgLength encodings. */
static bool find_s5(const uint8_t *d, size_t len, unsigned *typ_a, unsigned *typ_b)
{
	for (size_t i = 0; i + 8 < len; i++) {
		size_t j = i;
		if (d[j] != 0x08)
			continue;
		j++;
		if (d[j] == '\\')
			j++;
		if (memcmp(d + j, "_S5_", 4) || d[j + 4] != 0x12)
			continue;
		j += 5;
		unsigned pkglen_bytes = (d[j] >> 6) + 1;
		size_t pkglen = pkglen_bytes == 1 ? d[j] & 0x3f : d[j] & 0xf;
		for (unsigned b = 1; b < pkglen_bytes; b++)
			pkglen |= (size_t)d[j + b] << (4 + 8 * (b - 1));
		if (j + pkglen > len)
			return false;
		size_t end = j + pkglen;
		j += pkglen_bytes;
		if (d[j++] != 4)
			return false;
		unsigned v[2];
		for (int e = 0; e < 2; e++) {
			if (j >= end)
				return false;
			if (d[j] == 0x00 || d[j] == 0x01)
				v[e] = d[j++];
			else if (d[j] == 0x0a && j + 1 < end)
				v[e] = d[j + 1], j += 2;
			else
				return false;
		}
		*typ_a = v[0];
		*typ_b = v[1];
		return true;
	}
	return false;
}

static bool contains(const uint8_t *d, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(d + i, needle, n))
			return true;
	return false;
}

static void check_dsdt(const uint8_t *d, const struct acpi_params *p)
{
	uint32_t len = get32(d + 4);
	unsigned a = 99, b = 99;
	CHECK(find_s5(d + 36, len - 36, &a, &b) && a == p->s5_slp_typ && b == p->s5_slp_typ,
	      "DSDT \\_S5_ package SLP_TYP %u %u (want %u)", a, b, p->s5_slp_typ);
	static const uint8_t pnp0501[] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
	static const uint8_t pnp0303[] = {0x0c, 0x41, 0xd0, 0x03, 0x03};
	static const uint8_t pnp0b00[] = {0x0c, 0x41, 0xd0, 0x0b, 0x00};
	static const uint8_t com1_io[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00};
	CHECK(contains(d, len, pnp0501, 5) && contains(d, len, pnp0303, 5) && contains(d, len, pnp0b00, 5),
	      "DSDT has PNP0501, PNP0303, PNP0B00");
	CHECK(contains(d, len, com1_io, sizeof(com1_io)), "DSDT COM1 _CRS: IO 0x3f8/8, IRQ 4");
}

static void check_madt(const uint8_t *m, const struct acpi_params *p)
{
	uint32_t len = get32(m + 4);
	unsigned enabled = 0, ioapics = 0, nmis = 0;
	bool irq0 = false, sci = false, ids_ok = true;
	unsigned ioapic_id = 0;
	bool seen[256] = {false};

	CHECK(get32(m + 36) == p->lapic_addr && (get32(m + 40) & 1),
	      "MADT LAPIC address, PCAT_COMPAT (%u CPUs)", p->ncpus);
	for (uint32_t o = 44; o + 2 <= len;) {
		const uint8_t *e = m + o;
		if (e[1] < 2 || o + e[1] > len) {
			ids_ok = false;
			break;
		}
		switch (e[0]) {
		case 0:
			if (get32(e + 4) & 1)
				enabled++;
			seen[e[3]] = true;
			break;
		case 1:
			ioapics++;
			ioapic_id = e[2];
			ids_ok &= get32(e + 4) == p->ioapic_addr && get32(e + 8) == 0;
			break;
		case 2:
			if (e[3] == 0 && get32(e + 4) == 2)
				irq0 = true;
			if (e[3] == p->sci_irq && get32(e + 4) == p->sci_irq && get16(e + 8) == 0xd)
				sci = true;
			break;
		case 4:
			if (e[5] == 1)
				nmis++;
			break;
		}
		o += e[1];
	}
	for (unsigned i = 0; i < p->ncpus && i < 255; i++)
		ids_ok &= seen[i];
	CHECK(enabled == p->ncpus && ids_ok, "MADT %u enabled Local APICs, ids 0..%u", enabled, p->ncpus - 1);
	CHECK(ioapics == 1 && ioapic_id >= p->ncpus, "MADT one I/O APIC, id %u not a CPU's", ioapic_id);
	CHECK(irq0 && sci, "MADT overrides IRQ0->GSI2 and SCI level/high");
	CHECK(nmis == 1, "MADT Local APIC NMI on LINT1");
}

static void check_build(unsigned ncpus)
{
	struct acpi_params p = params(ncpus);

	memset(buf, 0xaa, sizeof(buf));
	used = acpi_build(buf, sizeof(buf), base, &p);
	CHECK(used > 0 && used <= sizeof(buf), "acpi_build for %u CPUs: %zu bytes", ncpus, used);
	if (!used)
		return;
	CHECK(!memcmp(buf, "RSD PTR ", 8) && buf[15] == 2, "RSDP signature, revision 2");
	CHECK(acpi_checksum(buf, 20) == 0 && get32(buf + 20) == 36 && acpi_checksum(buf, 36) == 0,
	      "RSDP checksums");
	const uint8_t *xsdt = table(get64(buf + 24), "XSDT");
	CHECK(xsdt != NULL, "RSDP points at the XSDT");
	if (get32(buf + 16))
		CHECK(table(get32(buf + 16), "RSDT") != NULL, "RSDP points at an RSDT");
	if (!xsdt)
		return;
	const uint8_t *fadt = NULL, *madt = NULL;
	unsigned n = (get32(xsdt + 4) - 36) / 8;
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = get64(xsdt + 36 + 8 * i);
		const uint8_t *t = at(gpa, 36);
		CHECK(t != NULL, "XSDT entry %u inside the buffer", i);
		if (t && !memcmp(t, "FACP", 4))
			fadt = table(gpa, "FACP");
		else if (t && !memcmp(t, "APIC", 4))
			madt = table(gpa, "APIC");
	}
	CHECK(fadt && madt, "XSDT lists FADT and MADT");
	if (fadt) {
		check_fadt(fadt, &p);
		const uint8_t *dsdt = table(get64(fadt + 140), "DSDT");
		CHECK(dsdt != NULL, "FADT points at the DSDT");
		if (dsdt)
			check_dsdt(dsdt, &p);
	}
	if (madt)
		check_madt(madt, &p);
}

int main(void)
{
	static const unsigned cpus[] = {1, 2, 4, 64};
	for (unsigned i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++)
		check_build(cpus[i]);

	struct acpi_params p = params(4);
	CHECK(acpi_build(buf, 100, base, &p) == 0, "buffer of 100 bytes is too small");
	size_t need = acpi_build(buf, sizeof(buf), base, &p);
	CHECK(acpi_build(buf, need - 1, base, &p) == 0, "one byte short is too small");
	CHECK(acpi_build(buf, need, base, &p) == need, "exact size fits");
	p.ncpus = 0;
	CHECK(acpi_build(buf, sizeof(buf), base, &p) == 0, "no CPUs is refused");

	return check_done();
}
