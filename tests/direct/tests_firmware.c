/* vmkit.t=firmware: booted as the "firmware" of vmkit's EFI boot loader
 * (fwstub.S, mkfirmware.c), the guest checks what OVMF relies on, from
 * inside: the fw_cfg device (I/O ports, DMA, file directory, hostile DMA
 * requests), the ACPI tables it serves through the table-loader script
 * (run here as OVMF's AcpiPlatformDxe would; the final ACPI power-off then
 * uses the tables it produced), the CFI flash of the code (read-only) and
 * of the variable store (query, status, program, erase: the host checks
 * the file afterwards), and the CMOS memory-size bytes. */
#include "lib.h"
#include "tests.h"

#define FW_SEL	0x510
#define FW_DATA 0x511
#define FW_DMA	0x514

#define DMA_ERROR  0x01
#define DMA_READ   0x02
#define DMA_SKIP   0x04
#define DMA_SELECT 0x08
#define DMA_WRITE  0x10

#define FLASH_TOP   0x100000000ULL
#define STUB_HEADER 0xfffff000ULL /* fwstub.S: payload size, image size */

struct fw_file {
	uint32_t size;
	uint16_t sel;
	char name[56];
};

static struct fw_file files[64];
static unsigned nfiles;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t bswap32(uint32_t v)
{
	return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

static void pio_read(uint16_t sel, void *buf, uint32_t len)
{
	outw(FW_SEL, sel);
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = inb(FW_DATA);
}

/* FWCfgDmaAccess, big-endian fields. */
static struct {
	uint32_t control, length;
	uint64_t address;
} __attribute__((aligned(16))) dma;

static uint32_t dma_run_at(uint64_t desc, uint32_t control, uint32_t len, uint64_t addr)
{
	dma.control = bswap32(control);
	dma.length = bswap32(len);
	dma.address = (uint64_t)bswap32((uint32_t)addr) << 32 | bswap32((uint32_t)(addr >> 32));
	__asm__ volatile("" ::: "memory");
	outl(FW_DMA, bswap32((uint32_t)(desc >> 32)));
	outl(FW_DMA + 4, bswap32((uint32_t)desc));
	__asm__ volatile("" ::: "memory");
	return bswap32(dma.control);
}

static uint32_t dma_run(uint32_t control, uint32_t len, void *buf)
{
	return dma_run_at((uint64_t)(uintptr_t)&dma, control, len, (uint64_t)(uintptr_t)buf);
}

static bool memchr_nul(const char *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!s[i])
			return true;
	return false;
}

static const struct fw_file *find(const char *name)
{
	for (unsigned i = 0; i < nfiles; i++)
		if (!strncmp(files[i].name, name, sizeof(files[i].name)))
			return &files[i];
	return 0;
}

static uint8_t e820_pio[512], e820_dma[512 + 16];

static void test_fw_cfg_basics(void)
{
	char sig[5] = {0};
	pio_read(0x0000, sig, 4);
	tap_check(!memcmp(sig, "QEMU", 4), "fwcfg-signature", "\"%s\"", sig);
	uint32_t id = 0;
	pio_read(0x0001, &id, 4);
	tap_check((id & 3) == 3, "fwcfg-id", "features 0x%x (want traditional + DMA)", id);
	char dsig[9] = {0};
	for (unsigned i = 0; i < 8; i++)
		dsig[i] = (char)inb(FW_DMA + i);
	tap_check(!memcmp(dsig, "QEMU CFG", 8), "fwcfg-dma-signature", "\"%s\"", dsig);

	uint8_t cnt[4];
	pio_read(0x0019, cnt, 4);
	uint32_t n = be32(cnt);
	bool names_ok = n > 0 && n <= 64;
	for (uint32_t i = 0; names_ok && i < n; i++) {
		uint8_t e[64];
		for (unsigned j = 0; j < 64; j++)
			e[j] = inb(FW_DATA);
		files[i].size = be32(e);
		files[i].sel = (uint16_t)(e[4] << 8 | e[5]);
		memcpy(files[i].name, e + 8, 56);
		names_ok = memchr_nul(files[i].name, 56) && files[i].sel >= 0x20;
		printf("# fw_cfg 0x%x %u %s\n", files[i].sel, files[i].size, files[i].name);
	}
	nfiles = names_ok ? n : 0;
	tap_check(names_ok, "fwcfg-directory", "%u files", n);
	static const char *want[] = {"etc/e820", "etc/acpi/tables", "etc/acpi/rsdp", "etc/table-loader",
				     "bootorder"};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		tap_check(find(want[i]) != 0, "fwcfg-file", "%s", want[i]);

	uint16_t cpus = 0;
	pio_read(0x0005, &cpus, 2);
	tap_check(cpus == 1, "fwcfg-cpus", "%u", cpus);
	uint64_t ram = 0, e820_ram = 0;
	pio_read(0x0003, &ram, 8);
	const struct fw_file *e = find("etc/e820");
	if (e && e->size <= sizeof(e820_pio) && e->size % 20 == 0) {
		pio_read(e->sel, e820_pio, e->size);
		for (uint32_t off = 0; off < e->size; off += 20) {
			uint64_t base, len;
			uint32_t type;
			memcpy(&base, e820_pio + off, 8);
			memcpy(&len, e820_pio + off + 8, 8);
			memcpy(&type, e820_pio + off + 16, 4);
			printf("# e820 0x%llx +0x%llx type %u\n", (unsigned long long)base,
			       (unsigned long long)len, type);
			if (type == 1)
				e820_ram += len;
		}
	}
	tap_check(ram && ram == e820_ram, "fwcfg-ram-size", "item 0x%llx, e820 RAM 0x%llx",
		  (unsigned long long)ram, (unsigned long long)e820_ram);

	/* DMA: the same bytes as the ports, zeros past the end, skip. */
	if (!e)
		return;
	memset(e820_dma, 0xaa, sizeof(e820_dma));
	uint32_t c = dma_run((uint32_t)e->sel << 16 | DMA_SELECT | DMA_READ, e->size + 16, e820_dma);
	bool zeros = true;
	for (unsigned i = 0; i < 16; i++)
		zeros &= e820_dma[e->size + i] == 0;
	tap_check(c == 0 && !memcmp(e820_dma, e820_pio, e->size) && zeros, "fwcfg-dma-read",
		  "control 0x%x, past the end zeros %d", c, zeros);
	uint8_t part[8];
	dma_run((uint32_t)e->sel << 16 | DMA_SELECT | DMA_SKIP, 8, 0);
	c = dma_run(DMA_READ, 8, part);
	tap_check(c == 0 && !memcmp(part, e820_pio + 8, 8), "fwcfg-dma-skip", "control 0x%x", c);

	/* Hostile requests: each fails alone, the device goes on working. */
	c = dma_run((uint32_t)e->sel << 16 | DMA_SELECT | DMA_READ, 64, (void *)(uintptr_t)0xf0000000);
	tap_check(c & DMA_ERROR, "fwcfg-dma-outside-ram", "control 0x%x", c);
	c = dma_run_at((uint64_t)(uintptr_t)&dma, (uint32_t)e->sel << 16 | DMA_SELECT | DMA_READ, 0xffffffff,
		       (uint64_t)(uintptr_t)e820_dma);
	tap_check(c & DMA_ERROR, "fwcfg-dma-huge-length", "control 0x%x", c);
	c = dma_run((uint32_t)e->sel << 16 | DMA_SELECT | DMA_WRITE, 8, e820_dma);
	tap_check(c & DMA_ERROR, "fwcfg-dma-write-refused", "control 0x%x", c);
	pio_read(e->sel, part, 8);
	tap_check(!memcmp(part, e820_pio, 8), "fwcfg-write-changed-nothing", "item unchanged");
	dma_run_at(0xfffffffffff0ULL, DMA_READ, 8, 0);
	dma_run_at(0xfeb00000ULL, DMA_READ, 8, 0);
	c = dma_run((uint32_t)e->sel << 16 | DMA_SELECT | DMA_READ, 8, part);
	tap_check(c == 0 && !memcmp(part, e820_pio, 8), "fwcfg-dma-descriptor-outside-ram",
		  "ignored, then control 0x%x", c);
	uint8_t none[4] = {1, 1, 1, 1};
	pio_read(0x7fff, none, 4);
	tap_check(!none[0] && !none[1] && !none[2] && !none[3], "fwcfg-unknown-item-zeros", "item 0x7fff");
}

/* The table-loader script, as OVMF runs it: place each file, patch the
 * pointers between them, fix the checksums. */
#define LOADER_ALLOCATE 1
#define LOADER_POINTER	2
#define LOADER_CHECKSUM 3

static uint8_t loader[128 * 64];
static struct {
	const struct fw_file *f;
	uint8_t *at;
} placed[8];
static unsigned nplaced;

static uint8_t *placed_at(const char *name)
{
	for (unsigned i = 0; i < nplaced; i++)
		if (!strncmp(placed[i].f->name, name, 56))
			return placed[i].at;
	return 0;
}

static void test_table_loader(void)
{
	const struct fw_file *lf = find("etc/table-loader");
	if (!lf || lf->size % 128 || lf->size > sizeof(loader)) {
		tap_fail("table-loader", "no usable etc/table-loader");
		return;
	}
	pio_read(lf->sel, loader, lf->size);
	uint8_t *next = (uint8_t *)(uintptr_t)0x800000; /* free RAM above the guest */
	bool ok = true;
	unsigned ptrs = 0, sums = 0;
	for (uint32_t off = 0; ok && off < lf->size; off += 128) {
		const uint8_t *e = loader + off;
		uint32_t cmd = e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24;
		uint32_t a, b, c;
		memcpy(&a, e + 60, 4);
		memcpy(&b, e + 64, 4);
		memcpy(&c, e + 68, 4);
		if (cmd == LOADER_ALLOCATE) {
			const struct fw_file *f = find((const char *)e + 4);
			ok = f && nplaced < 8 && a && !(a & (a - 1));
			if (!ok)
				break;
			next = (uint8_t *)(((uintptr_t)next + a - 1) & ~(uintptr_t)(a - 1));
			pio_read(f->sel, next, f->size);
			placed[nplaced].f = f;
			placed[nplaced++].at = next;
			next += f->size;
		} else if (cmd == LOADER_POINTER) {
			uint8_t *dst = placed_at((const char *)e + 4), *src = placed_at((const char *)e + 60);
			uint32_t at;
			memcpy(&at, e + 116, 4);
			uint8_t size = e[120];
			ok = dst && src && (size == 4 || size == 8);
			if (!ok)
				break;
			uint64_t v = 0;
			memcpy(&v, dst + at, size);
			v += (uint64_t)(uintptr_t)src;
			memcpy(dst + at, &v, size);
			ptrs++;
		} else if (cmd == LOADER_CHECKSUM) {
			uint8_t *f = placed_at((const char *)e + 4);
			ok = f != 0;
			if (!ok)
				break;
			f[a] = 0;
			uint8_t sum = 0;
			for (uint32_t i = 0; i < c; i++)
				sum = (uint8_t)(sum + f[b + i]);
			f[a] = (uint8_t)-sum;
			sums++;
		}
	}
	uint8_t *rsdp = placed_at("etc/acpi/rsdp");
	tap_check(ok && rsdp && !memcmp(rsdp, "RSD PTR ", 8), "table-loader",
		  "%u files placed, %u pointers, %u checksums", nplaced, ptrs, sums);
	/* The power-off at the end finds the tables through the zero page,
	 * as Linux would find what OVMF installed. */
	if (rsdp)
		*(volatile uint64_t *)(uintptr_t)0x7070 = (uint64_t)(uintptr_t)rsdp;
}

static volatile uint8_t *flash(uint64_t a)
{
	return (volatile uint8_t *)(uintptr_t)a;
}

static const uint8_t nv_guid[16] = {0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c,
				    0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50};

static bool is_store(uint64_t a)
{
	uint8_t hdr[56];
	for (unsigned i = 0; i < sizeof(hdr); i++)
		hdr[i] = *flash(a + i);
	return !memcmp(hdr + 40, "_FVH", 4) && !memcmp(hdr + 16, nv_guid, 16);
}

static void test_flash(void)
{
	uint32_t image = *(volatile uint32_t *)(uintptr_t)(STUB_HEADER + 4);
	uint64_t code = FLASH_TOP - image;
	tap_check(*flash(code + 40) == '_' && *flash(code + 43) == 'H', "flash-code-mapped",
		  "image of %u bytes at 0x%llx", image, (unsigned long long)code);
	/* The code flash is read-only: a program sequence changes nothing. */
	uint8_t before = *flash(code + 0x100);
	*flash(code + 0x100) = 0x10;
	*flash(code + 0x100) = (uint8_t)~before;
	*flash(code + 0x100) = 0xff;
	tap_check(*flash(code + 0x100) == before, "flash-code-read-only", "0x%x", *flash(code + 0x100));

	uint64_t vars = 0, size = 0;
	for (uint64_t a = code - 4096; a >= code - (16ULL << 20); a -= 4096)
		if (is_store(a)) {
			vars = a;
			size = code - a;
			break;
		}
	tap_check(vars != 0, "flash-vars-found", "store of %llu bytes at 0x%llx",
		  (unsigned long long)size, (unsigned long long)vars);
	if (!vars)
		return;
	volatile uint8_t *v = flash(vars);
	v[0] = 0x98;
	unsigned log2 = v[0x27];
	tap_check(v[0x10] == 'Q' && v[0x11] == 'R' && v[0x12] == 'Y' && (1ULL << log2) == size, "flash-cfi-query",
		  "2^%u bytes", log2);
	v[0] = 0xff;
	tap_check(is_store(vars), "flash-read-array", "header readable again");
	v[0] = 0x70;
	tap_check(v[0] == 0x80, "flash-status-ready", "0x%x", v[0]);
	v[0] = 0x50;
	v[0] = 0xff;

	uint64_t last = size - 1, sector = size - 4096;
	v[last - 1] = 0x10;
	v[last - 1] = 0xa5;
	uint8_t st = v[0];
	v[0] = 0xff;
	tap_check(st == 0x80 && v[last - 1] == 0xa5, "flash-program", "status 0x%x, byte 0x%x", st, v[last - 1]);
	v[sector + 5] = 0x20;
	v[sector + 5] = 0xd0;
	st = v[0];
	v[0] = 0xff;
	tap_check(st == 0x80 && v[last - 1] == 0xff && v[sector] == 0xff, "flash-erase", "status 0x%x", st);
	v[last] = 0x40;
	v[last] = 0x5a;
	v[0] = 0xff;
	tap_check(v[last] == 0x5a, "flash-program-alt", "0x%x", v[last]);
	v[sector] = 0x20;
	v[sector] = 0x00;
	v[0] = 0x70;
	st = v[0];
	v[0] = 0x50;
	v[0] = 0xff;
	tap_check(st & 0x30, "flash-bad-erase-sequence", "status 0x%x", st);
	tap_check(v[last] == 0x5a && v[sector] == 0xff && is_store(vars), "flash-bad-sequence-changed-nothing", "store intact");
	printf("# FLASH-VARS-SIZE=%llu\n", (unsigned long long)size);
}

static uint8_t cmos(uint8_t i)
{
	outb(0x70, i);
	return inb(0x71);
}

static void test_cmos(void)
{
	/* What OVMF reads when fw_cfg has no e820 (PlatformPei): RAM above
	 * 16 MiB in 64 KiB units, below 4 GiB. */
	uint64_t ram = 0;
	pio_read(0x0003, &ram, 8);
	uint64_t low = ram < 0x80000000ULL ? ram : 0x80000000ULL;
	unsigned units = cmos(0x34) | cmos(0x35) << 8;
	tap_check(units == (low - (16ULL << 20)) >> 16, "cmos-memory-size", "%u units for 0x%llx bytes", units,
		  (unsigned long long)ram);
	tap_check(cmos(0x0d) & 0x80, "cmos-rtc-valid", "register D 0x%x", cmos(0x0d));
}

void test_firmware(void)
{
	test_fw_cfg_basics();
	test_table_loader();
	test_flash();
	test_cmos();
}
