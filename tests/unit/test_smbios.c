/* SMBIOS tables: every structure walked as a reader (Linux's dmi_scan,
 * EDK2's SmbiosDxe) does — lengths, string sets, handles — for several CPU
 * and memory shapes; the entry point; the fw_cfg files OVMF checks against
 * each other; and the configuration's machine identifier. */
#include "arch/x86/layout.h"
#include "arch/x86/smbios.h"
#include "boot/firmware.h"
#include "check.h"
#include "config/config_priv.h"
#include "platform/bus.h"
#include "platform/fw_cfg.h"
#include "platform/platform.h"

#include <stdlib.h>
#include <string.h>

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

static const uint8_t test_uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef,
				      0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

/* Formatted-area length each type must have. */
static unsigned want_len(unsigned type)
{
	switch (type) {
	case 0:
		return 0x18;
	case 1:
		return 0x1b;
	case 3:
		return 0x16;
	case 4:
		return 0x30;
	case 16:
		return 0x17;
	case 17:
		return 0x28;
	case 19:
		return 0x1f;
	case 32:
		return 0x0b;
	case 127:
		return 4;
	}
	return 0;
}

/* Offsets of string-index fields, per type (0-terminated list). */
static const uint8_t *string_fields(unsigned type)
{
	static const uint8_t t0[] = {4, 5, 8, 0}, t1[] = {4, 5, 6, 7, 0x19, 0x1a, 0},
			     t3[] = {4, 6, 7, 8, 0x15, 0}, t4[] = {4, 7, 0x10, 0x20, 0x21, 0x22, 0},
			     t17[] = {0x10, 0x11, 0x17, 0x18, 0x19, 0x1a, 0}, none[] = {0};
	switch (type) {
	case 0:
		return t0;
	case 1:
		return t1;
	case 3:
		return t3;
	case 4:
		return t4;
	case 17:
		return t17;
	}
	return none;
}

struct walk {
	unsigned count[128];
	unsigned nstructs;
	uint64_t dimm_mib, mapped;
	const uint8_t *s[1024]; /* structures, in order */
	const char *vendor, *product, *serial, *cpu_vendor;
	bool ok;
};

/* Returns the n-th string (1-based) of the structure at s, or NULL. */
static const char *str_at(const uint8_t *s, unsigned n)
{
	const char *p = (const char *)s + s[1];
	for (unsigned i = 1; n && *p; i++) {
		if (i == n)
			return p;
		p += strlen(p) + 1;
	}
	return NULL;
}

static bool walk(const uint8_t *t, size_t len, struct walk *w, const char *what)
{
	memset(w, 0, sizeof(*w));
	size_t off = 0;
	uint16_t handles[1024];
	bool ok = true;
	unsigned last = 0;
	while (off < len) {
		const uint8_t *s = t + off;
		if (len - off < 4 || s[1] < 4 || s[1] > len - off) {
			CHECK(0, "%s: structure at %zu overruns the table", what, off);
			return false;
		}
		unsigned type = s[0];
		if (w->nstructs < 1024)
			w->s[w->nstructs] = s;
		ok &= s[1] == want_len(type);
		/* String set: non-empty strings, each shorter than 64, then a NUL. */
		size_t p = off + s[1];
		unsigned nstr = 0;
		bool strings_ok = true;
		if (p + 1 < len && t[p] == 0 && t[p + 1] == 0) {
			p += 2;
		} else {
			while (p < len && t[p]) {
				size_t n = strnlen((const char *)t + p, len - p);
				strings_ok &= n < SMBIOS_STRING_MAX && p + n < len;
				p += n + 1;
				nstr++;
			}
			strings_ok &= p < len && t[p] == 0;
			p++;
		}
		ok &= strings_ok;
		for (const uint8_t *f = string_fields(type); *f; f++)
			ok &= *f < s[1] && s[*f] <= nstr;
		uint16_t h = (uint16_t)platform_get_le(s + 2, 2);
		for (unsigned i = 0; i < w->nstructs && i < 1024; i++)
			ok &= handles[i] != h;
		ok &= h < 0xfeff;
		if (w->nstructs < 1024)
			handles[w->nstructs] = h;
		w->nstructs++;
		w->count[type & 127]++;
		if (type == 1) {
			w->vendor = str_at(s, s[4]);
			w->product = str_at(s, s[5]);
			w->serial = str_at(s, s[7]);
		}
		if (type == 4)
			w->cpu_vendor = str_at(s, s[7]);
		if (type == 17) {
			uint64_t mib = platform_get_le(s + 0x0c, 2);
			w->dimm_mib += mib == 0x7fff ? platform_get_le(s + 0x1c, 4) : mib;
			ok &= platform_get_le(s + 4, 2) == 0x1000;
		}
		if (type == 19) {
			uint64_t a = platform_get_le(s + 4, 4), e = platform_get_le(s + 8, 4);
			if (a == 0xffffffff)
				w->mapped += platform_get_le(s + 0x17, 8) - platform_get_le(s + 0x0f, 8) + 1;
			else
				w->mapped += (e - a + 1) * 1024;
		}
		off = p;
		last = type;
		if (type == 127)
			break;
	}
	CHECK(ok, "%s: lengths, string sets and handles", what);
	CHECK(off == len && last == 127, "%s: Type 127 ends the table exactly (%zu of %zu bytes)", what, off,
	      len);
	w->ok = ok;
	return ok;
}

static struct smbios_params params(unsigned sockets, unsigned cores, unsigned threads,
				   struct smbios_region *ram, unsigned nram, bool bios)
{
	struct smbios_params p = {.version = "0.1.0",
				  .bios = bios,
				  .sockets = sockets,
				  .cores_per_socket = cores,
				  .threads_per_core = threads,
				  .ram = ram,
				  .nram = nram};
	memcpy(p.uuid, test_uuid, 16);
	smbios_host_cpu(&p);
	return p;
}

static void shape(const char *what, unsigned sockets, unsigned cores, unsigned threads, uint64_t low,
		  uint64_t high, bool bios)
{
	struct smbios_region ram[2] = {{0, low}, {LAYOUT_HIGHMEM, high}};
	struct smbios_params p = params(sockets, cores, threads, ram, high ? 2 : 1, bios);
	static uint8_t buf[LAYOUT_SMBIOS_SIZE];
	memset(buf, 0xcc, sizeof(buf));
	size_t n = smbios_build(buf, sizeof(buf), LAYOUT_SMBIOS, &p);
	CHECK(n > 32 && n <= LAYOUT_SMBIOS_SIZE, "%s: fits in the BIOS area (%zu bytes)", what, n);
	if (!n)
		return;
	uint8_t sum = 0;
	for (int i = 0; i < SMBIOS3_EP_LEN; i++)
		sum = (uint8_t)(sum + buf[i]);
	CHECK(memcmp(buf, "_SM3_", 5) == 0 && sum == 0 && buf[6] == SMBIOS3_EP_LEN && buf[7] == 3 &&
		  buf[10] == 1,
	      "%s: entry point anchor, checksum, length, version 3, revision 1", what);
	uint64_t addr = platform_get_le(buf + 16, 8);
	uint32_t tlen = (uint32_t)platform_get_le(buf + 12, 4);
	CHECK(addr == LAYOUT_SMBIOS + 32 && addr % 16 == 0 && tlen == n - 32,
	      "%s: table address 0x%llx, 16-byte aligned, max size %u is the table's length", what,
	      (unsigned long long)addr, tlen);
	struct walk w;
	walk(buf + 32, tlen, &w, what);
	CHECK(w.count[0] == (bios ? 1u : 0u) && w.count[1] == 1 && w.count[3] == 1 && w.count[4] == sockets &&
		  w.count[16] == 1 && w.count[17] >= 1 && w.count[19] == (high ? 2u : 1u) &&
		  w.count[32] == 1 && w.count[127] == 1,
	      "%s: types 0 (%u) 1 3 4 (%u) 16 17 (%u) 19 (%u) 32 127", what, w.count[0], w.count[4],
	      w.count[17], w.count[19]);
	CHECK(w.vendor && strcmp(w.vendor, "vmkit") == 0 && w.product && w.serial &&
		  strcmp(w.serial, "12345678-9abc-4def-8011-223344556677") == 0,
	      "%s: system vendor vmkit, serial is the UUID", what);
	CHECK(w.dimm_mib * MiB == low + high && w.mapped == low + high,
	      "%s: memory devices (%llu MiB) and mapped ranges cover the RAM", what,
	      (unsigned long long)w.dimm_mib);
	const uint8_t *t16 = NULL, *t4 = NULL;
	for (unsigned i = 0; i < w.nstructs && i < 1024; i++) {
		if (w.s[i][0] == 16)
			t16 = w.s[i];
		if (w.s[i][0] == 4 && !t4)
			t4 = w.s[i];
	}
	uint64_t cap = t16 ? platform_get_le(t16 + 7, 4) : 0;
	if (cap == 0x80000000)
		cap = platform_get_le(t16 + 0x0f, 8) / 1024;
	CHECK(t16 && cap * 1024 == low + high && platform_get_le(t16 + 0x0d, 2) == w.count[17],
	      "%s: memory array capacity and device count", what);
	unsigned cc = t4 ? t4[0x23] : 0, tc = t4 ? t4[0x25] : 0;
	CHECK(t4 && platform_get_le(t4 + 0x2a, 2) == cores &&
		  platform_get_le(t4 + 0x2e, 2) == cores * threads && cc == (cores > 255 ? 255 : cores) &&
		  tc == (cores * threads > 255 ? 255 : cores * threads) && t4[0x18] == 0x41,
	      "%s: processor cores %u threads %u", what, cc, tc);
}

static void test_uuid_encoding(void)
{
	struct smbios_region ram = {0, 256 * MiB};
	struct smbios_params p = params(1, 1, 1, &ram, 1, false);
	static uint8_t t[4096];
	size_t n = smbios_tables(t, sizeof(t), &p);
	const uint8_t *s = t; /* without Type 0, Type 1 comes first */
	static const uint8_t want[16] = {0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xef, 0x4d,
					 0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
	CHECK(n && s[0] == 1 && memcmp(s + 8, want, 16) == 0,
	      "Type 1 UUID: first three fields little-endian (SMBIOS 2.6+)");
	char str[37];
	smbios_uuid_format(test_uuid, str);
	CHECK(strcmp(str, "12345678-9abc-4def-8011-223344556677") == 0, "UUID text form");
}

/* Every buffer too small is refused without a byte written past it. */
static void test_small_buffers(void)
{
	struct smbios_region ram[2] = {{0, 2 * GiB}, {LAYOUT_HIGHMEM, 2 * GiB}};
	struct smbios_params p = params(2, 2, 1, ram, 2, true);
	static uint8_t full[8192], small[8192];
	size_t n = smbios_tables(full, sizeof(full), &p);
	bool ok = n > 0;
	for (size_t cap = 0; ok && cap < n; cap++) {
		memset(small, 0xcc, sizeof(small));
		ok = smbios_tables(small, cap, &p) == 0;
		for (size_t i = cap; ok && i < sizeof(small); i++)
			ok = small[i] == 0xcc;
	}
	CHECK(ok, "caps 0..%zu: refused, nothing written past the cap", n - 1);
	CHECK(smbios_tables(small, n, &p) == n && memcmp(small, full, n) == 0, "an exact fit works");
	struct smbios_params bad = p;
	bad.sockets = 0;
	CHECK(smbios_tables(full, sizeof(full), &bad) == 0, "zero sockets refused");
	bad = p;
	bad.nram = 0;
	CHECK(smbios_tables(full, sizeof(full), &bad) == 0, "no RAM refused");
	CHECK(smbios_build(full, sizeof(full), LAYOUT_SMBIOS + 4, &p) == 0, "unaligned entry point refused");
}

static struct bus pio;
static struct gmem mem;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void in_bytes(uint8_t *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bus_access(&pio, FW_CFG_PORT_DATA, d + i, 1, false);
}

static void select_key(uint16_t key)
{
	uint8_t d[2];
	platform_put_le(d, 2, key);
	bus_access(&pio, FW_CFG_PORT_SEL, d, 2, true);
}

static uint16_t find_file(const char *name, uint32_t *size)
{
	uint8_t cnt[4], e[64];
	select_key(FW_CFG_FILE_DIR);
	in_bytes(cnt, 4);
	for (uint32_t i = 0; i < be32(cnt); i++) {
		in_bytes(e, 64);
		if (strncmp((char *)e + 8, name, 56) == 0) {
			*size = be32(e);
			return (uint16_t)(e[4] << 8 | e[5]);
		}
	}
	return 0;
}

/* What OVMF's DetectSmbiosVersionLib accepts: a 24-byte 3.x anchor whose
 * TableMaximumSize equals the tables file's size. */
static void test_fw_cfg(void)
{
	CHECK(gmem_init(&mem, 16 * MiB) == 0, "guest RAM");
	struct fw_cfg *f = fw_cfg_new(&pio, &mem);
	struct smbios_region ram[2] = {{0, 2 * GiB}, {LAYOUT_HIGHMEM, 6 * GiB}};
	struct smbios_params p = params(1, 4, 1, ram, 2, false);
	vmk_error *err = NULL;
	CHECK(f && firmware_add_smbios(f, &p, &err), "SMBIOS added to fw_cfg");
	uint32_t asz = 0, tsz = 0;
	uint16_t akey = find_file("etc/smbios/smbios-anchor", &asz);
	uint16_t tkey = find_file("etc/smbios/smbios-tables", &tsz);
	uint8_t anchor[SMBIOS3_EP_LEN] = {0};
	if (akey) {
		select_key(akey);
		in_bytes(anchor, sizeof(anchor));
	}
	CHECK(akey && asz == SMBIOS3_EP_LEN && memcmp(anchor, "_SM3_", 5) == 0 && anchor[7] == 3,
	      "anchor: 24 bytes, _SM3_, major 3");
	CHECK(tkey && tsz && platform_get_le(anchor + 12, 4) == tsz,
	      "anchor's maximum size is the tables' size (%u)", tsz);
	uint8_t *t = malloc(tsz ? tsz : 1);
	select_key(tkey);
	in_bytes(t, tsz);
	struct walk w;
	walk(t, tsz, &w, "fw_cfg tables");
	CHECK(w.count[0] == 0, "no Type 0 for firmware: OVMF adds its own");
	uint8_t u[16] = {0};
	select_key(FW_CFG_UUID);
	in_bytes(u, 16);
	CHECK(memcmp(u, test_uuid, 16) == 0, "FW_CFG_UUID holds the machine identifier");
	free(t);
	fw_cfg_free(f);
	gmem_destroy(&mem);
}

static void test_config_identifier(void)
{
	vmk_config *a = vmk_config_new(), *b = vmk_config_new();
	uint8_t ia[16], ib[16];
	vmk_config_get_machine_identifier(a, ia);
	vmk_config_get_machine_identifier(b, ib);
	CHECK(memcmp(ia, ib, 16) != 0, "two configurations get different identifiers");
	CHECK((ia[6] >> 4) == 4 && (ia[8] & 0xc0) == 0x80, "random identifiers are version 4 UUIDs");
	vmk_config_set_machine_identifier(a, test_uuid);
	vmk_config *c = vmk_config_copy(a);
	vmk_config_get_machine_identifier(c, ib);
	CHECK(memcmp(ib, test_uuid, 16) == 0, "set, and kept by a copy");
	vmk_config_free(a);
	vmk_config_free(b);
	vmk_config_free(c);
}

int main(void)
{
	shape("1 CPU, 256 MiB", 1, 1, 1, 256 * MiB, 0, false);
	shape("4 CPUs, 3 GiB (two ranges), BIOS", 1, 4, 1, 2 * GiB, 1 * GiB, true);
	shape("255 CPUs, 2 TiB", 1, 255, 1, 2 * GiB, 2048 * GiB - 2 * GiB, true);
	shape("2 sockets x 2 cores x 2 threads, 40 GiB", 2, 2, 2, 2 * GiB, 38 * GiB, false);
	shape("255 sockets, 5 TiB", 255, 1, 1, 2 * GiB, 5120 * GiB, true);
	shape("1 socket of 300 cores", 1, 300, 1, 512 * MiB, 0, false);
	test_uuid_encoding();
	test_small_buffers();
	test_fw_cfg();
	test_config_identifier();
	return check_done();
}
