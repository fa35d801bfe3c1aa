/* RSDP/XSDT walking, DSDT \_S5_ decoding, PM timer, ACPI power-off. */
#include "acpi.h"

const uint8_t *boot_params;

uint8_t acpi_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (len--)
		s += *b++;
	return s;
}

const uint8_t *acpi_find_rsdp(void)
{
	static const uint8_t *cached;
	if (cached)
		return cached;
	uint64_t a = boot_params ? *(const uint64_t *)(boot_params + 0x70) : 0;
	if (a && !memcmp((const void *)a, "RSD PTR ", 8))
		return cached = (const uint8_t *)a;
	for (a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8) && acpi_sum((const void *)a, 20) == 0)
			return cached = (const uint8_t *)a;
	return NULL;
}

const struct sdt *acpi_root(bool *is_xsdt)
{
	const uint8_t *r = acpi_find_rsdp();
	*is_xsdt = false;
	if (!r)
		return NULL;
	if (r[15] >= 2) {
		uint64_t x = *(const uint64_t *)(r + 24);
		if (x) {
			*is_xsdt = true;
			return (const struct sdt *)x;
		}
	}
	return (const struct sdt *)(uint64_t)*(const uint32_t *)(r + 16);
}

unsigned acpi_root_count(const struct sdt *root, bool is_xsdt)
{
	if (!root || root->length < sizeof(*root))
		return 0;
	return (root->length - sizeof(*root)) / (is_xsdt ? 8 : 4);
}

const struct sdt *acpi_root_entry(const struct sdt *root, bool is_xsdt, unsigned i)
{
	const uint8_t *e = (const uint8_t *)(root + 1);
	if (is_xsdt)
		return (const struct sdt *)*(const uint64_t *)(e + 8 * i);
	return (const struct sdt *)(uint64_t)*(const uint32_t *)(e + 4 * i);
}

const struct sdt *acpi_find_table(const char *sig)
{
	bool x;
	const struct sdt *root = acpi_root(&x);
	unsigned n = acpi_root_count(root, x);
	for (unsigned i = 0; i < n; i++) {
		const struct sdt *t = acpi_root_entry(root, x, i);
		if (t && (uint64_t)t < 0x100000000ULL && !memcmp(t->sig, sig, 4))
			return t;
	}
	return NULL;
}

const struct sdt *acpi_dsdt(void)
{
	const uint8_t *f = (const uint8_t *)acpi_find_table("FACP");
	if (!f)
		return NULL;
	uint32_t len = ((const struct sdt *)f)->length;
	uint64_t a = 0;
	if (len >= 148)
		a = *(const uint64_t *)(f + 140);
	if (!a)
		a = *(const uint32_t *)(f + 40);
	return (const struct sdt *)a;
}

bool acpi_find_s5(const struct sdt *dsdt, uint8_t *slp_typ)
{
	if (!dsdt || dsdt->length < sizeof(*dsdt) + 8)
		return false;
	const uint8_t *aml = (const uint8_t *)dsdt;
	for (uint32_t i = sizeof(*dsdt) + 1; i + 8 < dsdt->length; i++) {
		if (memcmp(aml + i, "_S5_", 4))
			continue;
		/* NameOp, optionally followed by the root prefix. */
		if (!(aml[i - 1] == 0x08 || (aml[i - 1] == '\\' && aml[i - 2] == 0x08)))
			continue;
		const uint8_t *p = aml + i + 4;
		if (*p++ != 0x12) /* PackageOp */
			continue;
		p += (*p >> 6) + 1; /* PkgLength */
		p++;                /* NumElements */
		switch (*p) {
		case 0x00: *slp_typ = 0; return true;          /* ZeroOp */
		case 0x01: *slp_typ = 1; return true;          /* OneOp */
		case 0x0a: *slp_typ = p[1]; return true;       /* BytePrefix */
		case 0x0b: *slp_typ = p[1]; return true;       /* WordPrefix */
		case 0x0c: *slp_typ = p[1]; return true;       /* DWordPrefix */
		default: return false;
		}
	}
	return false;
}

static void fadt_ports(struct acpi_power *pw)
{
	const uint8_t *f = (const uint8_t *)acpi_find_table("FACP");
	pw->pm1a_evt = 0x600, pw->pm1a_cnt = 0x604, pw->pm_tmr = 0x608;
	pw->tmr_32bit = false;
	if (!f)
		return;
	pw->pm1a_evt = (uint16_t)*(const uint32_t *)(f + 56);
	pw->pm1a_cnt = (uint16_t)*(const uint32_t *)(f + 64);
	pw->pm_tmr = (uint16_t)*(const uint32_t *)(f + 76);
	pw->tmr_32bit = (*(const uint32_t *)(f + 112) >> 8) & 1;
}

void acpi_power_info(struct acpi_power *pw)
{
	fadt_ports(pw);
	pw->s5_found = acpi_find_s5(acpi_dsdt(), &pw->slp_typ);
	if (!pw->s5_found) {
		pw->slp_typ = 0;
		tap_fail("s5-package", "\\_S5_ not found or not decodable in the DSDT at %p", (const void *)acpi_dsdt());
	}
}

void acpi_poweroff(const struct acpi_power *pw)
{
	outw(pw->pm1a_cnt, (uint16_t)((pw->slp_typ & 7) << 10 | 1 << 13));
	udelay(100000);
}

static uint16_t tmr_port;
static bool tmr32;

uint32_t pmtmr_read(void)
{
	if (!tmr_port) {
		struct acpi_power pw;
		fadt_ports(&pw);
		tmr_port = pw.pm_tmr, tmr32 = pw.tmr_32bit;
	}
	return inl(tmr_port) & (tmr32 ? 0xffffffffu : 0xffffffu);
}

uint64_t pmtmr_ticks_since(uint32_t start)
{
	uint32_t now = pmtmr_read();
	uint32_t mask = tmr32 ? 0xffffffffu : 0xffffffu;
	return (now - start) & mask;
}

/* Waits at least us microseconds; longer waits are chained short ones so
 * that a 24-bit timer (4.7 s period) never wraps twice unnoticed. */
void udelay(uint64_t us)
{
	while (us) {
		uint64_t step = us > 1000000 ? 1000000 : us;
		uint64_t ticks = step * PMTMR_HZ / 1000000;
		uint32_t start = pmtmr_read(), last = 0;
		unsigned same = 0;
		for (uint64_t t; (t = pmtmr_ticks_since(start)) < ticks;) {
			if (t != last)
				last = (uint32_t)t, same = 0;
			else if (++same > 200000)
				return; /* the PM timer is stuck: do not hang */
			cpu_relax();
		}
		us -= step;
	}
}
