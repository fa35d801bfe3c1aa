/* fw_cfg through the port-I/O bus: signature, ID, file directory, reads
 * through the data port and through DMA, hostile DMA descriptors; and the
 * firmware content, checked by running the table loader the way firmware
 * does and walking the ACPI tables it leaves. */
#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "boot/firmware.h"
#include "check.h"
#include "platform/bus.h"
#include "platform/fw_cfg.h"
#include "platform/platform.h"

#include <stdlib.h>
#include <string.h>

#define RAM_SIZE (16u << 20)

static struct bus pio;
static struct gmem mem;

static void out(uint16_t port, unsigned size, uint32_t v)
{
	uint8_t d[4];
	platform_put_le(d, size, v);
	bus_access(&pio, port, d, size, true);
}

static void in_bytes(uint16_t port, uint8_t *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bus_access(&pio, port, d + i, 1, false);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t bswap(uint32_t v)
{
	return __builtin_bswap32(v);
}

/* What a driver does: the access struct's address goes out big-endian,
 * high half first; the low half starts the transfer. */
static uint32_t dma(uint64_t desc_gpa, uint32_t control, uint32_t len, uint64_t addr)
{
	uint8_t *d = gmem_ptr(&mem, desc_gpa, 16);
	uint8_t raw[16];
	for (int i = 0; i < 4; i++) {
		raw[i] = (uint8_t)(control >> (24 - 8 * i));
		raw[4 + i] = (uint8_t)(len >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++)
		raw[8 + i] = (uint8_t)(addr >> (56 - 8 * i));
	memcpy(d, raw, 16);
	out(FW_CFG_PORT_DMA, 4, bswap((uint32_t)(desc_gpa >> 32)));
	out(FW_CFG_PORT_DMA + 4, 4, bswap((uint32_t)desc_gpa));
	return be32(d);
}

/* Returns the file's key and size from the directory, or 0. */
static uint16_t find_file(const char *name, uint32_t *size)
{
	uint8_t cnt[4], e[64];
	out(FW_CFG_PORT_SEL, 2, FW_CFG_FILE_DIR);
	in_bytes(FW_CFG_PORT_DATA, cnt, 4);
	for (uint32_t i = 0; i < be32(cnt); i++) {
		in_bytes(FW_CFG_PORT_DATA, e, 64);
		if (strncmp((char *)e + 8, name, 56) == 0) {
			*size = be32(e);
			return (uint16_t)(e[4] << 8 | e[5]);
		}
	}
	return 0;
}

static void test_ports(struct fw_cfg *f)
{
	uint8_t b[16];
	out(FW_CFG_PORT_SEL, 2, FW_CFG_SIGNATURE);
	in_bytes(FW_CFG_PORT_DATA, b, 4);
	CHECK(memcmp(b, "QEMU", 4) == 0, "signature QEMU");
	out(FW_CFG_PORT_SEL, 2, FW_CFG_ID);
	in_bytes(FW_CFG_PORT_DATA, b, 4);
	CHECK(platform_get_le(b, 4) == 3, "ID: traditional and DMA interfaces");
	for (unsigned i = 0; i < 8; i++)
		bus_access(&pio, FW_CFG_PORT_DMA + i, b + i, 1, false);
	CHECK(memcmp(b, "QEMU CFG", 8) == 0, "DMA register reads the DMA signature");

	static const char text[] = "hello firmware, this is a file";
	CHECK(fw_cfg_add_file(f, "opt/test", text, sizeof(text)) == 0, "add a file");
	CHECK(fw_cfg_add_file(f, "opt/test", text, 1) < 0, "a name is added once");
	char longname[80];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[79] = 0;
	CHECK(fw_cfg_add_file(f, longname, text, 1) < 0, "names over 55 characters are refused");
	uint32_t size = 0;
	uint16_t key = find_file("opt/test", &size);
	CHECK(key >= FW_CFG_FILE_FIRST && size == sizeof(text), "directory lists it (key 0x%x, %u bytes)",
	      key, size);
	uint8_t got[64];
	out(FW_CFG_PORT_SEL, 2, key);
	in_bytes(FW_CFG_PORT_DATA, got, sizeof(text) + 4);
	CHECK(memcmp(got, text, sizeof(text)) == 0, "file read through the data port");
	CHECK(got[sizeof(text)] == 0 && got[sizeof(text) + 3] == 0, "past the end reads zeros");
	out(FW_CFG_PORT_SEL, 2, 0x1234);
	in_bytes(FW_CFG_PORT_DATA, got, 4);
	CHECK(platform_get_le(got, 4) == 0, "an absent key reads zeros");
}

static void test_dma(void)
{
	uint32_t size;
	uint16_t key = find_file("opt/test", &size);
	uint8_t *buf = gmem_ptr(&mem, 0x20000, 64);
	memset(buf, 0xaa, 64);
	uint32_t c =
	    dma(0x10000, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, size, 0x20000);
	CHECK(c == 0, "DMA select+read completes (control 0x%x)", c);
	CHECK(memcmp(buf, "hello firmware", 14) == 0 && buf[size] == 0xaa,
	      "DMA read copies exactly the file");

	memset(buf, 0xaa, 64);
	c = dma(0x10000, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP, 6, 0);
	c |= dma(0x10000, FW_CFG_DMA_CTL_READ, 8, 0x20000);
	CHECK(c == 0 && memcmp(buf, "firmware", 8) == 0, "skip then read continues at the offset");

	uint8_t *snap = malloc(RAM_SIZE);
	memcpy(snap, mem.base, RAM_SIZE);
	c = dma(0x10000, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, size,
		0x4000000000ULL);
	CHECK(c == FW_CFG_DMA_CTL_ERROR, "target outside RAM: error bit");
	memcpy(snap + 0x10000, mem.base + 0x10000, 16);
	CHECK(memcmp(snap, mem.base, RAM_SIZE) == 0, "... and nothing but the descriptor changed");
	c = dma(0x10000, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 64,
		RAM_SIZE - 16);
	memcpy(snap + 0x10000, mem.base + 0x10000, 16);
	CHECK(c == FW_CFG_DMA_CTL_ERROR && memcmp(snap, mem.base, RAM_SIZE) == 0,
	      "target straddling the end of RAM: error, nothing written");
	c = dma(0x10000, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 0xffffffffu,
		0x20000);
	memcpy(snap + 0x10000, mem.base + 0x10000, 16);
	CHECK(c == FW_CFG_DMA_CTL_ERROR && memcmp(snap, mem.base, RAM_SIZE) == 0, "4 GiB length: error");
	c = dma(0x10000, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 4, 0x20000);
	CHECK(c == FW_CFG_DMA_CTL_ERROR, "writes are refused");

	/* A descriptor outside RAM: nothing to answer, nothing touched. */
	memcpy(snap, mem.base, RAM_SIZE);
	out(FW_CFG_PORT_DMA, 4, bswap(0xffffffffu));
	out(FW_CFG_PORT_DMA + 4, 4, bswap(0xfffffff8u));
	out(FW_CFG_PORT_DMA, 4, 0);
	out(FW_CFG_PORT_DMA + 4, 4, bswap(RAM_SIZE - 8));
	CHECK(memcmp(snap, mem.base, RAM_SIZE) == 0, "descriptors outside RAM are ignored");
	free(snap);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* Runs etc/table-loader as OVMF does: blobs placed in RAM, pointers
 * relocated, checksums stored. Returns the RSDP's address or 0. */
static uint64_t run_loader(void)
{
	uint32_t lsize, tsize, rsize;
	uint16_t lkey = find_file("etc/table-loader", &lsize);
	uint16_t tkey = find_file("etc/acpi/tables", &tsize);
	uint16_t rkey = find_file("etc/acpi/rsdp", &rsize);
	if (!lkey || !tkey || !rkey || lsize % 128)
		return 0;
	const uint64_t tgpa = 0x100000, rgpa = 0xf0000;
	uint8_t *script = gmem_ptr(&mem, 0x200000, lsize);
	dma(0x10000, (uint32_t)lkey << 16 | 0xa, lsize, 0x200000);
	dma(0x10000, (uint32_t)tkey << 16 | 0xa, tsize, tgpa);
	dma(0x10000, (uint32_t)rkey << 16 | 0xa, rsize, rgpa);
	int allocated = 0;
	for (uint32_t off = 0; off < lsize; off += 128) {
		uint8_t *e = script + off;
		uint32_t cmd = (uint32_t)platform_get_le(e, 4);
		const char *file = (char *)e + 4;
		uint64_t base = strcmp(file, "etc/acpi/rsdp") == 0 ? rgpa : tgpa;
		uint8_t *blob = gmem_ptr(&mem, base, 1);
		if (cmd == LOADER_ALLOCATE) {
			allocated++;
		} else if (cmd == LOADER_ADD_POINTER) {
			if (strcmp((char *)e + 60, "etc/acpi/tables") != 0 || allocated != 2)
				return 0;
			uint32_t at = (uint32_t)platform_get_le(e + 116, 4);
			unsigned sz = e[120];
			uint64_t v = platform_get_le(blob + at, sz) + tgpa;
			platform_put_le(blob + at, sz, v);
		} else if (cmd == LOADER_ADD_CHECKSUM) {
			uint32_t at = (uint32_t)platform_get_le(e + 60, 4);
			uint32_t start = (uint32_t)platform_get_le(e + 64, 4);
			uint32_t len = (uint32_t)platform_get_le(e + 68, 4);
			blob[at] = 0;
			blob[at] = (uint8_t)-sum(blob + start, len);
		} else {
			return 0;
		}
	}
	return rgpa;
}

static void test_firmware(struct fw_cfg *f)
{
	struct acpi_serial ser = {.port = 0x3f8, .irq = 4};
	struct acpi_params ap = {.ncpus = 2,
				 .ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
				 .lapic_addr = (uint32_t)LAYOUT_LAPIC,
				 .pm_base = LAYOUT_PM_BASE,
				 .sci_irq = LAYOUT_SCI_IRQ,
				 .reset_port = LAYOUT_RESET_PORT,
				 .reset_value = 6,
				 .serial = &ser,
				 .nserial = 1,
				 .ecam_base = LAYOUT_ECAM,
				 .pci_win_base = (uint32_t)LAYOUT_PCI_WIN,
				 .pci_win_size = (uint32_t)LAYOUT_PCI_WIN_SIZE};
	vmk_error *err = NULL;
	CHECK(firmware_fw_cfg_setup(f, &mem, 2, &ap, &err), "firmware content");
	uint8_t b[64];
	out(FW_CFG_PORT_SEL, 2, FW_CFG_NB_CPUS);
	in_bytes(FW_CFG_PORT_DATA, b, 2);
	CHECK(platform_get_le(b, 2) == 2, "FW_CFG_NB_CPUS");
	out(FW_CFG_PORT_SEL, 2, FW_CFG_RAM_SIZE);
	in_bytes(FW_CFG_PORT_DATA, b, 8);
	CHECK(platform_get_le(b, 8) == RAM_SIZE, "FW_CFG_RAM_SIZE");
	uint32_t size;
	uint16_t key = find_file("etc/e820", &size);
	CHECK(key && size % 20 == 0 && size >= 40, "etc/e820 (%u bytes)", size);
	out(FW_CFG_PORT_SEL, 2, key);
	in_bytes(FW_CFG_PORT_DATA, b, 20);
	CHECK(platform_get_le(b, 8) == 0 && platform_get_le(b + 8, 8) == RAM_SIZE &&
		  platform_get_le(b + 16, 4) == 1,
	      "e820 starts with all of RAM");
	CHECK(find_file("bootorder", &size) && find_file("etc/boot-fail-wait", &size),
	      "bootorder and etc/boot-fail-wait exist");

	uint64_t rsdp_gpa = run_loader();
	CHECK(rsdp_gpa != 0, "table loader runs");
	if (!rsdp_gpa)
		return;
	uint8_t *rsdp = gmem_ptr(&mem, rsdp_gpa, 36);
	CHECK(memcmp(rsdp, "RSD PTR ", 8) == 0 && sum(rsdp, 20) == 0 && sum(rsdp, 36) == 0,
	      "RSDP signature and both checksums");
	uint64_t xsdt_gpa = platform_get_le(rsdp + 24, 8);
	uint8_t *xsdt = gmem_ptr(&mem, xsdt_gpa, 36);
	CHECK(xsdt && memcmp(xsdt, "XSDT", 4) == 0, "RSDP leads to the XSDT at 0x%llx",
	      (unsigned long long)xsdt_gpa);
	if (!xsdt)
		return;
	uint32_t xlen = (uint32_t)platform_get_le(xsdt + 4, 4);
	CHECK(sum(xsdt, xlen) == 0, "XSDT checksum");
	bool tables_ok = true, have_fadt = false;
	for (uint32_t i = 36; i + 8 <= xlen; i += 8) {
		uint8_t *t = gmem_ptr(&mem, platform_get_le(xsdt + i, 8), 36);
		uint32_t tlen = t ? (uint32_t)platform_get_le(t + 4, 4) : 0;
		if (!t || sum(t, tlen) != 0)
			tables_ok = false;
		if (t && memcmp(t, "FACP", 4) == 0) {
			have_fadt = true;
			uint8_t *dsdt = gmem_ptr(&mem, platform_get_le(t + 140, 8), 36);
			uint8_t *facs = gmem_ptr(&mem, platform_get_le(t + 36, 4), 64);
			CHECK(dsdt && memcmp(dsdt, "DSDT", 4) == 0 &&
				  sum(dsdt, (uint32_t)platform_get_le(dsdt + 4, 4)) == 0 &&
				  platform_get_le(t + 40, 4) == platform_get_le(t + 140, 8),
			      "FADT leads to a valid DSDT");
			CHECK(facs && memcmp(facs, "FACS", 4) == 0, "FADT leads to the FACS");
		}
	}
	CHECK(tables_ok && have_fadt, "every XSDT entry is a table with a valid checksum");
	uint32_t rsdt_gpa = (uint32_t)platform_get_le(rsdp + 16, 4);
	uint8_t *rsdt = gmem_ptr(&mem, rsdt_gpa, 36);
	CHECK(rsdt && memcmp(rsdt, "RSDT", 4) == 0 && sum(rsdt, (uint32_t)platform_get_le(rsdt + 4, 4)) == 0,
	      "RSDT relocated and checksummed");
}

int main(void)
{
	if (gmem_init(&mem, RAM_SIZE) < 0) {
		printf("Bail out! cannot map RAM\n");
		return 1;
	}
	struct fw_cfg *f = fw_cfg_new(&pio, &mem);
	CHECK(f != NULL, "fw_cfg_new");
	if (!f)
		return check_done();
	test_ports(f);
	test_dma();
	test_firmware(f);
	fw_cfg_free(f);
	gmem_destroy(&mem);
	return check_done();
}
