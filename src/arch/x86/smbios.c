/* SMBIOS 3.0 structure table and entry point (DSP0134 3.0). Every structure
 * is a formatted area (type, length, handle, fields) followed by its string
 * set: NUL-terminated strings referenced by 1-based index, ended by one more
 * NUL (two NULs when there are none). Absent strings are index 0, never an
 * empty string, which would end the set early. Handles follow QEMU's scheme
 * (type << 8 plus an instance) so they are unique by construction and look
 * familiar to tools that were written against QEMU guests. */
#include "arch/x86/smbios.h"
#include "platform/platform.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define NO_HANDLE	0xfffe /* "not provided" in handle fields */
#define NO_CACHE_HANDLE 0xffff /* Type 4 cache handles: no cache information */
#define DIMM_MIN_SIZE	(16 * GiB)

struct sb {
	uint8_t *buf;
	size_t cap, len;
	size_t start; /* of the structure being built */
	uint8_t nstr;
	bool full;
};

/* Starts a structure; returns its zeroed formatted area, or NULL when full. */
static uint8_t *sb_begin(struct sb *b, uint8_t type, uint8_t len, uint16_t handle)
{
	b->start = b->len;
	b->nstr = 0;
	if (b->full || b->cap - b->len < (size_t)len + 2) {
		b->full = true;
		return NULL;
	}
	uint8_t *s = b->buf + b->len;
	memset(s, 0, len);
	s[0] = type;
	s[1] = len;
	platform_put_le(s + 2, 2, handle);
	b->len += len;
	return s;
}

/* Appends a string to the current structure's set; returns its index, or 0
 * for NULL or "" (not present). Long strings are cut, not refused. */
static uint8_t sb_str(struct sb *b, const char *str)
{
	if (b->full || !str || !*str)
		return 0;
	size_t n = strnlen(str, SMBIOS_STRING_MAX - 1);
	if (b->cap - b->len < n + 1 + 2 || b->nstr == 255) {
		b->full = true;
		return 0;
	}
	memcpy(b->buf + b->len, str, n);
	b->buf[b->len + n] = 0;
	b->len += n + 1;
	return ++b->nstr;
}

/* Ends the string set: one NUL after the last string, two if there were none. */
static void sb_end(struct sb *b)
{
	if (b->full)
		return;
	unsigned n = b->nstr ? 1 : 2;
	if (b->cap - b->len < n) {
		b->full = true;
		return;
	}
	memset(b->buf + b->len, 0, n);
	b->len += n;
}

void smbios_uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void type0_bios(struct sb *b, const struct smbios_params *p)
{
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_BIOS, 0x18, 0x0000);
	if (!s)
		return;
	s[0x04] = sb_str(b, "vmkit");
	s[0x05] = sb_str(b, p->version);
	/* No BIOS image exists: segment and ROM size describe nothing. */
	platform_put_le(s + 0x06, 2, 0xe800);
	s[0x08] = sb_str(b, "11/24/2026");     /* mm/dd/yyyy (required): when these tables were written */
	platform_put_le(s + 0x0a, 8, 1u << 3); /* characteristics not supported */
	s[0x13] = 1u << 4;		       /* byte 2 bit 4: a virtual machine */
	s[0x16] = s[0x17] = 0xff;	       /* no embedded controller firmware */
	sb_end(b);
}

static void type1_system(struct sb *b, const struct smbios_params *p)
{
	char serial[37];
	smbios_uuid_format(p->uuid, serial);
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_SYSTEM, 0x1b, 0x0100);
	if (!s)
		return;
	s[0x04] = sb_str(b, "vmkit");
	s[0x05] = sb_str(b, "vmkit Virtual Machine");
	s[0x06] = sb_str(b, p->version);
	s[0x07] = sb_str(b, serial);
	/* Since SMBIOS 2.6 the first three UUID fields are little-endian. */
	for (int i = 0; i < 4; i++)
		s[0x08 + i] = p->uuid[3 - i];
	s[0x0c] = p->uuid[5];
	s[0x0d] = p->uuid[4];
	s[0x0e] = p->uuid[7];
	s[0x0f] = p->uuid[6];
	memcpy(s + 0x10, p->uuid + 8, 8);
	s[0x18] = 0x06; /* woken by the power switch */
	s[0x1a] = sb_str(b, "Virtual Machine");
	sb_end(b);
}

static void type3_chassis(struct sb *b, const struct smbios_params *p)
{
	char serial[37];
	smbios_uuid_format(p->uuid, serial);
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_CHASSIS, 0x16, 0x0300);
	if (!s)
		return;
	s[0x04] = sb_str(b, "vmkit");
	s[0x05] = 0x01; /* other */
	s[0x06] = sb_str(b, p->version);
	s[0x07] = sb_str(b, serial);
	s[0x09] = s[0x0a] = s[0x0b] = 0x03; /* boot-up, power supply, thermal: safe */
	s[0x0c] = 0x02;			    /* security: unknown */
	sb_end(b);
}

static void type4_cpu(struct sb *b, const struct smbios_params *p, unsigned socket)
{
	char name[16];
	snprintf(name, sizeof(name), "CPU %u", socket);
	unsigned cores = p->cores_per_socket, threads = cores * p->threads_per_core;
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_CPU, 0x30, (uint16_t)(0x0400 + socket));
	if (!s)
		return;
	s[0x04] = sb_str(b, name);
	s[0x05] = 0x03; /* central processor */
	s[0x06] = 0xfe; /* family: see family 2 */
	s[0x07] = sb_str(b, p->cpu_vendor);
	platform_put_le(s + 0x08, 4, p->cpuid_1_eax);
	platform_put_le(s + 0x0c, 4, p->cpuid_1_edx);
	s[0x10] = sb_str(b, "vmkit virtual CPU");
	/* Unknown clocks are 0, but Windows' SVVP wants nonzero speeds (QEMU
	 * reports 2000 MHz for the same reason). */
	platform_put_le(s + 0x14, 2, 2000);
	platform_put_le(s + 0x16, 2, 2000);
	s[0x18] = 0x41; /* socket populated, CPU enabled */
	s[0x19] = 0x01; /* upgrade: other */
	platform_put_le(s + 0x1a, 2, NO_CACHE_HANDLE);
	platform_put_le(s + 0x1c, 2, NO_CACHE_HANDLE);
	platform_put_le(s + 0x1e, 2, NO_CACHE_HANDLE);
	/* Counts above 255 go in the 3.0 fields, the byte fields say 0xff. */
	s[0x23] = s[0x24] = (uint8_t)(cores > 255 ? 0xff : cores);
	s[0x25] = (uint8_t)(threads > 255 ? 0xff : threads);
	platform_put_le(s + 0x26, 2, 0x04 | (cores > 1 ? 0x08 : 0) | (p->threads_per_core > 1 ? 0x10 : 0));
	platform_put_le(s + 0x28, 2, 0x01); /* family 2: other */
	platform_put_le(s + 0x2a, 2, cores);
	platform_put_le(s + 0x2c, 2, cores);
	platform_put_le(s + 0x2e, 2, threads);
	sb_end(b);
}

/* RAM is described as DIMMs of 16 GiB (the last one smaller), fewer and
 * larger when there would be more than SMBIOS_MAX_DIMMS. */
static uint64_t dimm_size(uint64_t ram)
{
	uint64_t d = DIMM_MIN_SIZE;
	while ((ram + d - 1) / d > SMBIOS_MAX_DIMMS)
		d *= 2;
	return d;
}

static void type16_array(struct sb *b, uint64_t ram, unsigned ndimms)
{
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_MEMARRAY, 0x17, 0x1000);
	if (!s)
		return;
	s[0x04] = 0x01; /* location: other */
	s[0x05] = 0x03; /* system memory */
	s[0x06] = 0x06; /* error correction: multi-bit ECC, as QEMU says */
	uint64_t kib = ram / KiB;
	if (kib >= 0x80000000ULL) {
		platform_put_le(s + 0x07, 4, 0x80000000u);
		platform_put_le(s + 0x0f, 8, ram);
	} else {
		platform_put_le(s + 0x07, 4, kib);
	}
	platform_put_le(s + 0x0b, 2, NO_HANDLE);
	platform_put_le(s + 0x0d, 2, ndimms);
	sb_end(b);
}

static void type17_dimm(struct sb *b, unsigned i, uint64_t size)
{
	char loc[16];
	snprintf(loc, sizeof(loc), "DIMM %u", i);
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_MEMDEV, 0x28, (uint16_t)(0x1100 + i));
	if (!s)
		return;
	platform_put_le(s + 0x04, 2, 0x1000);
	platform_put_le(s + 0x06, 2, NO_HANDLE);
	platform_put_le(s + 0x08, 2, 0xffff); /* total width unknown */
	platform_put_le(s + 0x0a, 2, 0xffff); /* data width unknown */
	uint64_t mib = size / MiB;
	if (mib < 0x7fff) {
		platform_put_le(s + 0x0c, 2, mib);
	} else {
		platform_put_le(s + 0x0c, 2, 0x7fff);
		platform_put_le(s + 0x1c, 4, mib);
	}
	s[0x0e] = 0x09; /* DIMM */
	s[0x10] = sb_str(b, loc);
	s[0x12] = 0x07;			    /* RAM */
	platform_put_le(s + 0x13, 2, 0x02); /* detail: other */
	s[0x17] = sb_str(b, "vmkit");
	sb_end(b);
}

static void type19_map(struct sb *b, unsigned i, const struct smbios_region *r, unsigned ndimms)
{
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_MEMMAP, 0x1f, (uint16_t)(0x1300 + i));
	if (!s)
		return;
	uint64_t end = r->addr + r->len - 1;
	/* KiB fields reach 4 TiB; beyond, the byte-granular 2.7 fields. */
	if (end / KiB >= 0xffffffffULL) {
		platform_put_le(s + 0x04, 4, 0xffffffffu);
		platform_put_le(s + 0x08, 4, 0xffffffffu);
		platform_put_le(s + 0x0f, 8, r->addr);
		platform_put_le(s + 0x17, 8, end);
	} else {
		platform_put_le(s + 0x04, 4, r->addr / KiB);
		platform_put_le(s + 0x08, 4, end / KiB);
	}
	platform_put_le(s + 0x0c, 2, 0x1000);
	s[0x0e] = (uint8_t)(ndimms > 255 ? 255 : ndimms); /* partition width: devices per row */
	sb_end(b);
}

static void type32_boot(struct sb *b)
{
	uint8_t *s = sb_begin(b, SMBIOS_TYPE_BOOT, 0x0b, 0x2000);
	if (!s)
		return;
	s[0x0a] = 0x00; /* no errors detected */
	sb_end(b);
}

size_t smbios_tables(uint8_t *buf, size_t cap, const struct smbios_params *p)
{
	if (!p->sockets || !p->cores_per_socket || !p->threads_per_core || p->sockets > 0xc00 ||
	    p->nram > SMBIOS_MAX_REGIONS || p->nram == 0)
		return 0;
	uint64_t ram = 0;
	for (unsigned i = 0; i < p->nram; i++) {
		if (!p->ram[i].len || p->ram[i].addr + p->ram[i].len < p->ram[i].addr)
			return 0;
		ram += p->ram[i].len;
	}
	struct sb b = {.buf = buf, .cap = cap};
	if (p->bios)
		type0_bios(&b, p);
	type1_system(&b, p);
	type3_chassis(&b, p);
	for (unsigned i = 0; i < p->sockets; i++)
		type4_cpu(&b, p, i);
	uint64_t dimm = dimm_size(ram);
	unsigned ndimms = (unsigned)((ram + dimm - 1) / dimm);
	type16_array(&b, ram, ndimms);
	for (unsigned i = 0; i < ndimms; i++)
		type17_dimm(&b, i, i + 1 < ndimms ? dimm : ram - (uint64_t)i * dimm);
	for (unsigned i = 0; i < p->nram; i++)
		type19_map(&b, i, &p->ram[i], ndimms);
	type32_boot(&b);
	if (sb_begin(&b, SMBIOS_TYPE_END, 4, 0x7f00))
		sb_end(&b);
	return b.full ? 0 : b.len;
}

void smbios_entry_point(uint8_t ep[SMBIOS3_EP_LEN], uint64_t table_gpa, uint32_t len)
{
	memset(ep, 0, SMBIOS3_EP_LEN);
	memcpy(ep, "_SM3_", 5);
	ep[6] = SMBIOS3_EP_LEN;
	ep[7] = 3;     /* version 3.0 */
	ep[8] = 0;     /* minor */
	ep[9] = 0;     /* docrev */
	ep[10] = 0x01; /* entry point revision: 3.0 */
	platform_put_le(ep + 12, 4, len);
	platform_put_le(ep + 16, 8, table_gpa);
	uint8_t sum = 0;
	for (unsigned i = 0; i < SMBIOS3_EP_LEN; i++)
		sum = (uint8_t)(sum + ep[i]);
	ep[5] = (uint8_t)-sum;
}

size_t smbios_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct smbios_params *p)
{
	/* The table starts 16-byte aligned after the entry point. */
	const size_t off = 32;
	if (cap < off || (gpa & 15))
		return 0;
	size_t len = smbios_tables(buf + off, cap - off, p);
	if (!len || len > UINT32_MAX)
		return 0;
	smbios_entry_point(buf, gpa + off, (uint32_t)len);
	memset(buf + SMBIOS3_EP_LEN, 0, off - SMBIOS3_EP_LEN);
	return off + len;
}

void smbios_host_cpu(struct smbios_params *p)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	memset(p->cpu_vendor, 0, sizeof(p->cpu_vendor));
	if (__get_cpuid(0, &a, &b, &c, &d)) {
		memcpy(p->cpu_vendor, &b, 4);
		memcpy(p->cpu_vendor + 4, &d, 4);
		memcpy(p->cpu_vendor + 8, &c, 4);
	}
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		p->cpuid_1_eax = a;
		p->cpuid_1_edx = d;
	}
}
