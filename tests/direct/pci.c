/* PCI configuration access for the test guest: ECAM located through the
 * ACPI MCFG table, and mechanism #1 (0xcf8 address, 0xcfc-0xcff data). */
#include "pci.h"
#include "acpi.h"
#include "apic.h"

static uint64_t ecam_base;
bool pci_use_ecam;

uint64_t pci_mcfg_ecam(const char **why)
{
	const struct sdt *m = acpi_find_table("MCFG");
	*why = "";
	if (!m) {
		*why = "no MCFG table in the XSDT/RSDT";
		return 0;
	}
	if (acpi_sum(m, m->length) != 0) {
		*why = "MCFG checksum is wrong";
		return 0;
	}
	/* header (36), reserved (8), then 16-byte allocations */
	if (m->length < 44 + 16) {
		*why = "MCFG has no allocation entry";
		return 0;
	}
	const uint8_t *p = (const uint8_t *)m;
	for (uint32_t o = 44; o + 16 <= m->length; o += 16) {
		uint64_t base = *(const uint64_t *)(p + o);
		uint16_t seg = *(const uint16_t *)(p + o + 8);
		uint8_t start = p[o + 10];
		if (seg == 0 && start == 0)
			return base;
	}
	*why = "MCFG has no allocation for segment 0 starting at bus 0";
	return 0;
}

void pci_set_ecam(uint64_t base)
{
	ecam_base = base;
	pci_use_ecam = base != 0;
}

uint32_t pci_read(bool ecam, unsigned dev, unsigned fn, unsigned off, unsigned size)
{
	if (ecam) {
		uint64_t a = ecam_base + ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + off;
		if (size == 1)
			return mmio_read8(a);
		if (size == 2)
			return mmio_read16(a);
		return mmio_read32(a);
	}
	outl(0xcf8, 0x80000000u | dev << 11 | fn << 8 | (off & 0xfc));
	if (size == 1)
		return inb((uint16_t)(0xcfc + (off & 3)));
	if (size == 2)
		return inw((uint16_t)(0xcfc + (off & 2)));
	return inl(0xcfc);
}

void pci_write(bool ecam, unsigned dev, unsigned fn, unsigned off, unsigned size, uint32_t v)
{
	if (ecam) {
		uint64_t a = ecam_base + ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + off;
		if (size == 1)
			mmio_write8(a, (uint8_t)v);
		else if (size == 2)
			mmio_write16(a, (uint16_t)v);
		else
			mmio_write32(a, v);
		return;
	}
	outl(0xcf8, 0x80000000u | dev << 11 | fn << 8 | (off & 0xfc));
	if (size == 1)
		outb((uint16_t)(0xcfc + (off & 3)), (uint8_t)v);
	else if (size == 2)
		outw((uint16_t)(0xcfc + (off & 2)), (uint16_t)v);
	else
		outl(0xcfc, v);
}

int pci_find_device(uint16_t vendor, uint16_t device)
{
	for (unsigned d = 0; d < 32; d++)
		if (pci_read32(d, 0) == ((uint32_t)device << 16 | vendor))
			return (int)d;
	return -1;
}

int pci_walk_caps(unsigned dev, void (*fn)(unsigned dev, uint8_t off, uint8_t id, void *ctx), void *ctx)
{
	if (!(pci_read16(dev, PCI_STATUS) & PCI_STATUS_CAPS))
		return 0;
	uint8_t seen[256 / 8] = {0};
	uint8_t p = pci_read8(dev, PCI_CAP_PTR);
	int n = 0;
	while (p) {
		if (p < 0x40 || (p & 3) || n >= 48 || (seen[p / 8] >> (p % 8) & 1))
			return -1;
		seen[p / 8] |= (uint8_t)(1u << (p % 8));
		uint8_t id = pci_read8(dev, p);
		if (fn)
			fn(dev, p, id, ctx);
		n++;
		p = pci_read8(dev, p + 1u);
	}
	return n;
}
