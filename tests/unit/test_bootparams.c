/* Unit tests of the Linux boot loader: e820 map, initrd placement and the
 * zero page built from a crafted bzImage. */
#include "../unit/check.h"
#include "arch/x86/layout.h"
#include "boot/linux.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t ram_total(const struct boot_e820_entry *e, unsigned n)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == 1)
			t += e[i].size;
	return t;
}

static void test_e820(uint64_t mib)
{
	struct gmem m;
	CHECK(gmem_init(&m, mib << 20) == 0, "gmem_init %llu MiB", (unsigned long long)mib);
	struct boot_e820_entry e[16];
	unsigned n = linux_e820(&m, e, 16);
	/* RAM hidden by the legacy hole (640 KiB - 1 MiB) is the only loss. */
	uint64_t want = (mib << 20) - (LAYOUT_KERNEL - LAYOUT_EBDA);
	CHECK(ram_total(e, n) == want, "e820 RAM for %llu MiB: %llu", (unsigned long long)mib,
	      (unsigned long long)ram_total(e, n));
	bool sorted = true;
	for (unsigned i = 1; i < n; i++)
		if (e[i].addr < e[i - 1].addr + e[i - 1].size)
			sorted = false;
	CHECK(sorted, "e820 sorted and disjoint (%u entries)", n);
	bool hole = true;
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == 1 && e[i].addr < LAYOUT_HIGHMEM && e[i].addr + e[i].size > LAYOUT_MEM32_END)
			hole = false;
	CHECK(hole, "no RAM in the 32-bit PCI hole");
	CHECK(gmem_ptr(&m, LAYOUT_MEM32_END, 1) == NULL || mib << 20 <= LAYOUT_MEM32_END,
	      "the hole is not backed");
	CHECK(gmem_ptr(&m, (mib << 20) - 4096, 8192) == NULL || mib << 20 > LAYOUT_MEM32_END,
	      "a range crossing the end of RAM is refused");
	CHECK(gmem_ptr(&m, UINT64_MAX - 10, 100) == NULL, "a wrapping range is refused");
	gmem_destroy(&m);
}

/* A minimal image with a protocol 2.15 header that the parser accepts. */
static char *make_bzimage(uint32_t cmdline_size)
{
	static char path[] = "/tmp/vmkit-bz.XXXXXX";
	strcpy(path, "/tmp/vmkit-bz.XXXXXX");
	int fd = mkstemp(path);
	size_t len = 5 * 512 + 8192;
	uint8_t *b = calloc(1, len);
	b[0x1f1] = 4;
	b[0x1fe] = 0x55;
	b[0x1ff] = 0xaa;
	b[0x201] = 0x66;
	memcpy(b + 0x202, "HdrS", 4);
	b[0x206] = 0x0f;
	b[0x207] = 0x02;
	b[0x211] = 0x01; /* LOADED_HIGH */
	uint32_t initrd_max = 0x7fffffff;
	memcpy(b + 0x22c, &initrd_max, 4);
	uint32_t align = 0x200000;
	memcpy(b + 0x230, &align, 4);
	b[0x234] = 1;
	uint16_t xlf = 0x3;
	memcpy(b + 0x236, &xlf, 2);
	memcpy(b + 0x238, &cmdline_size, 4);
	uint32_t init_size = 0x100000;
	memcpy(b + 0x260, &init_size, 4);
	memcpy(b + 5 * 512, "KERNEL", 6);
	(void)!write(fd, b, len);
	close(fd);
	free(b);
	return path;
}

static void test_load(void)
{
	struct gmem m;
	gmem_init(&m, 64ULL << 20);
	char *k = make_bzimage(255);
	char initrd[] = "/tmp/vmkit-initrd.XXXXXX";
	int fd = mkstemp(initrd);
	(void)!write(fd, "INITRD-CONTENT", 14);
	close(fd);
	struct vmk_boot_loader bl = {
	    .kind = VMK_BOOT_LOADER_LINUX, .kernel = k, .initrd = initrd, .cmdline = "console=ttyS0"};
	struct linux_boot lb;
	vmk_error *err = NULL;
	bool ok = linux_load(&m, &bl, LAYOUT_ACPI, &lb, &err);
	CHECK(ok, "linux_load of a crafted bzImage: %s", err ? vmk_error_get_message(err) : "ok");
	if (ok) {
		struct boot_params *bp = gmem_ptr(&m, lb.zero_page, sizeof(*bp));
		CHECK(lb.entry == LAYOUT_KERNEL + 0x200, "64-bit entry at load address + 0x200");
		CHECK(!memcmp(gmem_ptr(&m, LAYOUT_KERNEL, 6), "KERNEL", 6), "protected-mode code at 1 MiB");
		CHECK(bp->hdr.type_of_loader == 0xff, "type_of_loader");
		CHECK(bp->hdr.header == 0x53726448, "setup header copied");
		CHECK(bp->hdr.cmd_line_ptr == LAYOUT_CMDLINE &&
			  !strcmp(gmem_ptr(&m, LAYOUT_CMDLINE, 14), "console=ttyS0"),
		      "command line");
		CHECK(bp->hdr.ramdisk_size == 14 &&
			  !memcmp(gmem_ptr(&m, bp->hdr.ramdisk_image, 14), "INITRD-CONTENT", 14),
		      "initrd at 0x%x", bp->hdr.ramdisk_image);
		CHECK(bp->hdr.ramdisk_image >= LAYOUT_KERNEL + 0x100000 &&
			  (bp->hdr.ramdisk_image & 0xfff) == 0,
		      "initrd above the kernel's init_size, page aligned");
		CHECK(bp->acpi_rsdp_addr == LAYOUT_ACPI, "RSDP address");
		CHECK(bp->e820_entries >= 4, "e820 entries %u", bp->e820_entries);
	}
	vmk_error_free(err);
	err = NULL;

	char longline[300];
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	bl.cmdline = longline;
	CHECK(!linux_load(&m, &bl, LAYOUT_ACPI, &lb, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_CMDLINE_TOO_LONG,
	      "command line over cmdline_size refused");
	vmk_error_free(err);
	err = NULL;

	bl.cmdline = "";
	bl.initrd = "/nonexistent/initrd";
	CHECK(!linux_load(&m, &bl, LAYOUT_ACPI, &lb, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_INITRD_UNREADABLE,
	      "missing initrd refused");
	vmk_error_free(err);
	unlink(k);
	unlink(initrd);
	gmem_destroy(&m);
}

static void test_initrd_addr(void)
{
	struct gmem m;
	gmem_init(&m, 256ULL << 20);
	uint64_t a = linux_initrd_addr(&m, 0x1000000, 0x7fffffff, 10 << 20);
	CHECK(a && a + (10 << 20) <= 256ULL << 20 && a >= 0x1000000, "initrd at the top of RAM: 0x%llx",
	      (unsigned long long)a);
	CHECK(linux_initrd_addr(&m, 0x1000000, 0x7fffffff, 255ULL << 20) == 0,
	      "an initrd that cannot fit: 0");
	a = linux_initrd_addr(&m, 0x1000000, 0x3fffffff, 1 << 20);
	CHECK(a + (1 << 20) <= 0x40000000ULL, "initrd_addr_max respected");
	gmem_destroy(&m);
	gmem_init(&m, 3072ULL << 20);
	a = linux_initrd_addr(&m, 0x1000000, 0xffffffff, 1 << 20);
	CHECK(a + (1 << 20) <= LAYOUT_MEM32_END, "initrd stays below the PCI hole with 3 GiB");
	gmem_destroy(&m);
}

int main(void)
{
	test_e820(32);
	test_e820(512);
	test_e820(2048);
	test_e820(5120);
	test_initrd_addr();
	test_load();
	return check_done();
}
