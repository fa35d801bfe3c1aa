/* vmkit.t=boot: entry registers, setup header, e820, cmdline, initrd. */
#include "acpi.h"
#include "tests.h"

struct e820 {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

/* Sum of all bytes mod 2^32, eight at a time (the guest is slow). */
static uint32_t byte_sum(const uint8_t *p, uint64_t n)
{
	uint64_t total = 0;
	while (n && ((uint64_t)p & 7))
		total += *p++, n--;
	const uint64_t m = 0x00ff00ff00ff00ffULL;
	while (n >= 8) {
		uint64_t acc = 0;
		uint64_t chunk = n / 8 > 128 ? 128 : n / 8; /* 16-bit lanes: 128*2*255 fits */
		for (uint64_t i = 0; i < chunk; i++) {
			uint64_t x = ((const uint64_t *)p)[i];
			acc += (x & m) + (x >> 8 & m);
		}
		acc = (acc & 0x0000ffff0000ffffULL) + (acc >> 16 & 0x0000ffff0000ffffULL);
		total += (acc & 0xffffffff) + (acc >> 32);
		p += chunk * 8, n -= chunk * 8;
	}
	while (n--)
		total += *p++;
	return (uint32_t)total;
}

static bool in_ram(const struct e820 *e, unsigned n, uint64_t a, uint64_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == 1 && a >= e[i].addr && a + len <= e[i].addr + e[i].size)
			return true;
	return false;
}

static bool ram_overlaps(const struct e820 *e, unsigned n, uint64_t a, uint64_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == 1 && a < e[i].addr + e[i].size && e[i].addr < a + len)
			return true;
	return false;
}

static void check_entry(void)
{
	const struct entry_state *s = &entry_state;
	tap_check(s->rsi != 0 && s->rsi < 0x100000000ULL, "entry-rsi", "RSI 0x%lx", s->rsi);
	tap_check((s->cr0 & 0x80000001) == 0x80000001, "entry-cr0", "CR0 0x%lx (PG|PE expected)", s->cr0);
	tap_check((s->efer & 0x500) == 0x500, "entry-efer", "EFER 0x%lx (LME|LMA expected)", s->efer);
	tap_check(s->cr4 & 0x20, "entry-cr4-pae", "CR4 0x%lx", s->cr4);
	tap_check(!(s->rflags & 0x200), "entry-if-clear", "RFLAGS 0x%lx", s->rflags);
	uint64_t desc = 0;
	bool have = s->gdt_base && (s->cs & ~7ULL) + 7 <= s->gdt_limit && !(s->cs & 4);
	if (have)
		desc = *(const uint64_t *)(s->gdt_base + (s->cs & ~7ULL));
	bool code64 = have && (desc >> 53 & 1) && !(desc >> 54 & 1) && (desc >> 43 & 1) && (desc >> 47 & 1);
	tap_check(code64, "entry-cs-64bit", "CS 0x%lx descriptor 0x%lx (GDT 0x%lx limit 0x%lx)", s->cs, desc,
		  s->gdt_base, s->gdt_limit);
}

void test_boot(void)
{
	check_entry();
	if (!boot_params) {
		tap_fail("boot-params", "no zero page (RSI 0x%lx)", entry_state.rsi);
		return;
	}
	tap_check(!memcmp(boot_params + 0x202, "HdrS", 4), "hdrs-magic", "0x%x at boot_params+0x202",
		  bp32(0x202));
	tap_check(*(const uint16_t *)(boot_params + 0x1fe) == 0xaa55, "boot-flag", "0x%x",
		  *(const uint16_t *)(boot_params + 0x1fe));
	tap_check(boot_params[0x210] != 0, "type-of-loader", "type_of_loader 0 (loader must set it)");

	/* e820 */
	unsigned n = boot_params[0x1e8];
	const struct e820 *e = (const struct e820 *)(boot_params + 0x2d0);
	tap_check(n > 0 && n <= 128, "e820-entries", "e820_entries %u", n);
	if (n > 128)
		n = 128;
	bool sorted = true;
	uint64_t ram = 0;
	for (unsigned i = 0; i < n; i++) {
		printf("# e820 %u: 0x%lx-0x%lx type %u\n", i, e[i].addr, e[i].addr + e[i].size - 1, e[i].type);
		if (i && e[i].addr < e[i - 1].addr + e[i - 1].size) {
			tap_fail("e820-sorted", "entry %u at 0x%lx starts before the end of entry %u (0x%lx)", i,
				 e[i].addr, i - 1, e[i - 1].addr + e[i - 1].size);
			sorted = false;
		}
		if (e[i].type != 1)
			continue;
		uint64_t a = e[i].addr, end = a + e[i].size;
		if (a < 0x100000) { /* below 1 MiB counts as 639 KiB at most */
			uint64_t lend = end < 0x9fc00 ? end : 0x9fc00;
			ram += lend > a ? lend - a : 0;
			a = 0x100000;
		}
		if (end > a)
			ram += end - a;
	}
	if (sorted)
		tap_ok("e820-sorted");
	uint64_t mem;
	if (arg_u64("mem", &mem)) {
		uint64_t want = mem << 20;
		uint64_t diff = ram > want ? ram - want : want - ram;
		tap_check(diff <= (1 << 20), "e820-ram-size", "usable RAM 0x%lx bytes (%lu KiB), mem=%lu MiB", ram,
			  ram >> 10, mem);
	} else {
		tap_fail("e820-ram-size", "no mem= on the command line");
	}
	tap_check(!ram_overlaps(e, n, 0xa0000, 0x60000), "e820-no-ram-in-legacy-hole",
		  "RAM in [0xa0000,0x100000)");
	tap_check(!ram_overlaps(e, n, 0xfec00000, 0x1000), "e820-no-ram-at-ioapic", "RAM at 0xfec00000");
	tap_check(!ram_overlaps(e, n, 0xfee00000, 0x1000), "e820-no-ram-at-lapic", "RAM at 0xfee00000");
	uint64_t kbase = (uint64_t)_kernel_start, kend = (uint64_t)_kernel_end;
	tap_check(in_ram(e, n, kbase, kend - kbase), "e820-kernel-in-ram", "kernel 0x%lx-0x%lx not in RAM",
		  kbase, kend);

	/* command line */
	uint64_t cp = bp32(0x228) | (uint64_t)bp32(0xc8) << 32;
	tap_check(cp != 0, "cmdline-ptr", "cmd_line_ptr 0");
	char echo[256];
	if (arg_str("echo", echo, sizeof(echo))) {
		char name[300];
		snprintf(name, sizeof(name), "echo %s", echo);
		tap_ok(name);
	}

	/* initrd */
	uint64_t want_sum, want_size;
	bool has_sum = arg_hex("initrd_sum", &want_sum), has_size = arg_u64("initrd_size", &want_size);
	if (has_sum && has_size) {
		uint64_t img = bp32(0x218) | (uint64_t)bp32(0xc0) << 32;
		uint64_t size = bp32(0x21c) | (uint64_t)bp32(0xc4) << 32;
		tap_check(size == want_size, "initrd-size", "ramdisk_size %lu (ext %u), expected %lu", size,
			  bp32(0xc4), want_size);
		tap_check(img != 0, "initrd-addr", "ramdisk_image 0");
		tap_check(img && in_ram(e, n, img, size), "initrd-in-ram", "initrd 0x%lx+0x%lx not in e820 RAM", img,
			  size);
		tap_check(img + size <= kbase || img >= kend, "initrd-no-kernel-overlap",
			  "initrd 0x%lx-0x%lx overlaps kernel 0x%lx-0x%lx", img, img + size, kbase, kend);
		if (img && size == want_size && img + size <= 0x100000000ULL) {
			uint32_t sum = byte_sum((const uint8_t *)img, size);
			tap_check(sum == (uint32_t)want_sum, "initrd-checksum", "byte sum 0x%08x, expected 0x%08x",
				  sum, (uint32_t)want_sum);
		} else {
			tap_fail("initrd-checksum", "not computed (initrd 0x%lx size %lu)", img, size);
		}
	}
}
