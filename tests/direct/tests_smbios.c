/* vmkit.t=smbios [cpus=N] [mem=MiB] [uuid=...]: finds the SMBIOS 3.0 entry
 * point the way Linux's dmi_scan does (16-byte steps through 0xf0000 -
 * 0xfffff), checks it, walks every structure (lengths, string sets, unique
 * handles, Type 127 last) and compares vendor, UUID, cores and RAM. */
#include "lib.h"
#include "tests.h"

static const uint8_t *find_ep(void)
{
	for (uint64_t a = 0xf0000; a + 24 <= 0x100000; a += 16)
		if (!memcmp((const void *)a, "_SM3_", 5))
			return (const uint8_t *)a;
	return 0;
}

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

static const char *str_at(const uint8_t *s, unsigned n)
{
	const char *p = (const char *)s + s[1];
	for (unsigned i = 1; n && *p; i++, p += strlen(p) + 1)
		if (i == n)
			return p;
	return "";
}

void test_smbios(void)
{
	const uint8_t *ep = find_ep();
	if (!ep) {
		tap_fail("smbios-entry-point", "no _SM3_ in 0xf0000-0xfffff");
		return;
	}
	uint8_t sum = 0;
	for (unsigned i = 0; i < ep[6] && i < 32; i++)
		sum = (uint8_t)(sum + ep[i]);
	tap_check(sum == 0 && ep[6] == 24 && ep[7] == 3, "smbios-entry-point",
		  "at %p length %u version %u.%u sum 0x%x", (const void *)ep, ep[6], ep[7], ep[8], sum);
	uint32_t len = le(ep + 12, 4);
	uint64_t addr = le(ep + 16, 4) | (uint64_t)le(ep + 20, 4) << 32;
	if (!addr || addr + len > 0x100000 || len < 4) {
		tap_fail("smbios-table", "table at 0x%lx, %u bytes: outside the BIOS area", addr, len);
		return;
	}
	const uint8_t *t = (const uint8_t *)addr, *end = t + len;
	uint16_t handles[64];
	unsigned n = 0, last = 0, cores = 0;
	uint64_t mib = 0;
	bool ok = true;
	char vendor[32] = "", uuid[40] = "";
	while (t < end && ok) {
		ok = t[1] >= 4 && t + t[1] + 2 <= end;
		if (!ok)
			break;
		const uint8_t *p = t + t[1];
		if (!p[0])
			p++; /* no strings: two NULs */
		while (p < end && *p)
			p += strlen((const char *)p) + 1;
		ok = p < end;
		uint16_t h = (uint16_t)le(t + 2, 2);
		for (unsigned i = 0; i < n && i < 64; i++)
			ok &= handles[i] != h;
		if (n < 64)
			handles[n] = h;
		n++;
		if (t[0] == 1) {
			snprintf(vendor, sizeof(vendor), "%s", str_at(t, t[4]));
			const uint8_t *u = t + 8;
			snprintf(uuid, sizeof(uuid),
				 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[3],
				 u[2], u[1], u[0], u[5], u[4], u[7], u[6], u[8], u[9], u[10], u[11], u[12],
				 u[13], u[14], u[15]);
		}
		if (t[0] == 4)
			cores += t[1] >= 0x30 ? le(t + 0x2a, 2) : t[0x23];
		if (t[0] == 17) {
			uint32_t s = le(t + 0x0c, 2);
			mib += s == 0x7fff ? le(t + 0x1c, 4) : s;
		}
		last = t[0];
		t = p + 1;
		if (last == 127)
			break;
	}
	tap_check(ok && last == 127 && t == end, "smbios-structures",
		  "%u structures, well formed %d, last type %u, %ld of %u bytes", n, ok, last,
		  (long)(t - (end - len)), len);
	tap_check(!strncmp(vendor, "vmkit", 6), "smbios-vendor", "system manufacturer \"%s\"", vendor);
	printf("# smbios: uuid %s cores %u memory %lu MiB\n", uuid, cores, mib);
	char want[40];
	if (arg_str("uuid", want, sizeof(want)))
		tap_check(!strncmp(uuid, want, sizeof(want)), "smbios-uuid", "%s, want %s", uuid, want);
	uint64_t v;
	if (arg_u64("cpus", &v))
		tap_check(cores == v, "smbios-cores", "%u cores, cpus=%lu", cores, v);
	if (arg_u64("mem", &v))
		tap_check(mib == v, "smbios-memory", "%lu MiB in memory devices, mem=%lu", mib, v);
}
