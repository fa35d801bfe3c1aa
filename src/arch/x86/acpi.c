/* ACPI tables for the x86 machine (ACPI 6.4): RSDP (5.2.5), RSDT/XSDT
 * (5.2.7, 5.2.8), FADT revision 6 (5.2.9), FACS (5.2.10), DSDT with a
 * minimal AML encoder (5.2.11.1, 20.2), MADT (5.2.12). docs/acpi.md. */
#include "arch/x86/acpi.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define HDR_LEN	 36
#define FADT_LEN 276
#define FACS_LEN 64

/* FADT flags (5.2.9, table 5.10) */
#define FADT_WBINVD	     (1u << 0)
#define FADT_PROC_C1	     (1u << 2)
#define FADT_SLP_BUTTON	     (1u << 5)
#define FADT_RESET_REG_SUP   (1u << 10)
#define FADT_APIC_PHYSICAL   (1u << 19)
#define BOOT_ARCH_LEGACY_DEV (1u << 0)
#define BOOT_ARCH_8042	     (1u << 1)

#define GAS_SYSTEM_IO 1
#define GAS_BYTE      1
#define GAS_WORD      2
#define GAS_DWORD     3

#define MADT_PCAT_COMPAT 1
#define MPS_EDGE_HIGH	 0x5 /* polarity 01 active high, trigger 01 edge */
#define MPS_LEVEL_HIGH	 0xd /* polarity 01 active high, trigger 11 level */

/* AML opcodes (20.2) */
#define AML_ZERO      0x00
#define AML_ONE	      0x01
#define AML_NAME      0x08
#define AML_BYTE      0x0a
#define AML_WORD      0x0b
#define AML_DWORD     0x0c
#define AML_SCOPE     0x10
#define AML_BUFFER    0x11
#define AML_PACKAGE   0x12
#define AML_EXT	      0x5b
#define AML_EXT_DEV   0x82
#define AML_ROOT_CHAR 0x5c

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A bump allocator over the caller's buffer; every table is zeroed. */
struct area {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint64_t gpa;
};

static uint8_t *area_alloc(struct area *a, size_t size, size_t align, uint64_t *gpa)
{
	size_t off = (a->len + align - 1) & ~(align - 1);
	if (off > a->cap || size > a->cap - off)
		return NULL;
	memset(a->buf + a->len, 0, off + size - a->len);
	a->len = off + size;
	*gpa = a->gpa + off;
	return a->buf + off;
}

static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "VMKIT ", 6);
	memcpy(t + 16, "VMKITVM ", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "VMKT", 4);
	put32(t + 32, 1);
}

static void table_finish(uint8_t *t)
{
	uint32_t len = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

static void gas_io(uint8_t *g, uint8_t bits, uint8_t access, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = bits;
	g[2] = 0;
	g[3] = access;
	put64(g + 4, port);
}

/*
 * The AML encoder. Writes go straight into the table; a package (Scope,
 * Device, Package, Buffer) remembers where its body starts and, when
 * closed, shifts the body up to make room for its PkgLength, whose size
 * depends on the body length (20.2.4). Overflow is sticky and checked once.
 */
#define AML_DEPTH 8

struct aml {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
	size_t open[AML_DEPTH];
	unsigned depth;
};

static void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_open(struct aml *a, uint8_t op)
{
	aml_byte(a, op);
	if (a->depth == AML_DEPTH) {
		a->overflow = true;
		return;
	}
	a->open[a->depth++] = a->len;
}

static void aml_open_ext(struct aml *a, uint8_t op)
{
	aml_byte(a, AML_EXT);
	aml_open(a, op);
}

static void aml_close(struct aml *a)
{
	if (a->overflow || a->depth == 0) {
		a->overflow = true;
		return;
	}
	size_t start = a->open[--a->depth];
	size_t body = a->len - start;
	unsigned n;

	/* PkgLength counts its own bytes; one byte holds 6 bits, each extra
	 * byte adds 8 bits on top of the 4 low bits of the lead byte. */
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else if (body + 4 <= 0xfffffff)
		n = 4;
	else {
		a->overflow = true;
		return;
	}
	if (n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memmove(a->p + start + n, a->p + start, body);
	size_t total = body + n;
	if (n == 1) {
		a->p[start] = (uint8_t)total;
	} else {
		a->p[start] = (uint8_t)((n - 1) << 6 | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			a->p[start + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	a->len += n;
}

static void aml_int(struct aml *a, uint32_t v)
{
	uint8_t b[5];

	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		b[0] = AML_BYTE;
		b[1] = (uint8_t)v;
		aml_bytes(a, b, 2);
	} else if (v <= 0xffff) {
		b[0] = AML_WORD;
		put16(b + 1, (uint16_t)v);
		aml_bytes(a, b, 3);
	} else {
		b[0] = AML_DWORD;
		put32(b + 1, v);
		aml_bytes(a, b, 5);
	}
}

/* name is a NameSeg of exactly 4 characters, optionally preceded by '\'. */
static void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, name, strlen(name));
}

/* EISAID("PNP0501"): three 5-bit letters and four hex digits, stored big-endian
 * so the bytes read as a DWordConst in memory order (19.6.35). */
static void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v =
	    (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 | (uint32_t)(id[2] - 0x40) << 16;
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	uint8_t b[5] = {AML_DWORD, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	aml_bytes(a, b, sizeof(b));
}

/* Resource descriptors (6.4.2): IO with 16-bit decode, IRQNoFlags. */
static void res_io(struct aml *a, uint16_t port, uint8_t len)
{
	uint8_t b[8] = {0x47, 1,  (uint8_t)port, (uint8_t)(port >> 8), (uint8_t)port, (uint8_t)(port >> 8),
			1,    len};
	aml_bytes(a, b, sizeof(b));
}

static void res_irq(struct aml *a, uint8_t irq)
{
	if (irq < 16) {
		uint16_t mask = (uint16_t)(1u << irq);
		uint8_t b[3] = {0x22, (uint8_t)mask, (uint8_t)(mask >> 8)};
		aml_bytes(a, b, sizeof(b));
	} else {
		/* Extended Interrupt: consumer, edge, active high, exclusive */
		uint8_t b[9] = {0x89, 6, 0, 0x03, 1, irq, 0, 0, 0};
		aml_bytes(a, b, sizeof(b));
	}
}

/* Opens Name(_CRS, ResourceTemplate() { ... }); the Buffer's size is not
 * known until aml_crs_end, so it is reserved as a WordConst and patched. */
static size_t aml_crs_begin(struct aml *a)
{
	aml_name(a, "_CRS");
	aml_open(a, AML_BUFFER);
	size_t at = a->len;
	aml_bytes(a, (uint8_t[]){AML_WORD, 0, 0}, 3);
	return at;
}

static void aml_crs_end(struct aml *a, size_t at)
{
	aml_bytes(a, (uint8_t[]){0x79, 0}, 2); /* End Tag; checksum 0 means "none" */
	if (!a->overflow)
		put16(a->p + at + 1, (uint16_t)(a->len - at - 3));
	aml_close(a);
}

static void aml_device(struct aml *a, const char *name, const char *hid, uint32_t uid)
{
	aml_open_ext(a, AML_EXT_DEV);
	aml_bytes(a, name, 4);
	aml_name(a, "_HID");
	aml_eisaid(a, hid);
	aml_name(a, "_UID");
	aml_int(a, uid);
}

/* Word (0x88) and DWord (0x87) address space descriptors (6.4.3.5) for a
 * bridge window: fixed min and max, producer. */
static void res_word_space(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	uint16_t len = (uint16_t)(max - min + 1);
	uint8_t b[16] = {0x88,
			 13,
			 0,
			 type,
			 0x0c,
			 tflags,
			 0,
			 0,
			 (uint8_t)min,
			 (uint8_t)(min >> 8),
			 (uint8_t)max,
			 (uint8_t)(max >> 8),
			 0,
			 0,
			 (uint8_t)len,
			 (uint8_t)(len >> 8)};
	aml_bytes(a, b, sizeof(b));
}

static void res_dword_mem(struct aml *a, uint32_t min, uint32_t len)
{
	uint8_t b[26] = {0x87, 23, 0, 0, 0x0c, 0x01};
	put32(b + 10, min);
	put32(b + 14, min + len - 1);
	put32(b + 22, len);
	aml_bytes(a, b, sizeof(b));
}

/* The PCI Express root bridge: bus numbers, the 0xcf8 ports it uses and
 * the I/O and memory windows it forwards to its devices. */
static void aml_pci_root(struct aml *a, const struct acpi_params *prm)
{
	aml_device(a, "PCI0", "PNP0A08", 0);
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_int(a, 0);
	aml_name(a, "_BBN");
	aml_int(a, 0);
	size_t crs = aml_crs_begin(a);
	res_word_space(a, 2, 0, 0, 0xff);
	res_io(a, 0xcf8, 8);
	res_word_space(a, 1, 3, 0x0000, 0x0cf7);
	res_word_space(a, 1, 3, 0x0d00, 0xffff);
	res_dword_mem(a, prm->pci_win_base, prm->pci_win_size);
	aml_crs_end(a, crs);
	aml_close(a);
}

static size_t build_dsdt_body(uint8_t *p, size_t cap, const struct acpi_params *prm)
{
	struct aml a = {.p = p, .cap = cap};
	size_t crs;

	/* \_S5_: PM1a and PM1b SLP_TYP, then two reserved values (7.4.2) */
	aml_name(&a, "\\_S5_");
	aml_open(&a, AML_PACKAGE);
	aml_byte(&a, 4);
	aml_int(&a, prm->s5_slp_typ);
	aml_int(&a, prm->s5_slp_typ);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_close(&a);

	aml_open(&a, AML_SCOPE);
	aml_bytes(&a, "\\_SB_", 5);

	for (unsigned i = 0; i < prm->nserial; i++) {
		char name[8];
		if (i < 9)
			snprintf(name, sizeof(name), "COM%u", i + 1);
		else
			snprintf(name, sizeof(name), "C%03X", i & 0xfff);
		aml_device(&a, name, "PNP0501", i + 1);
		crs = aml_crs_begin(&a);
		res_io(&a, prm->serial[i].port, 8);
		res_irq(&a, prm->serial[i].irq);
		aml_crs_end(&a, crs);
		aml_close(&a);
	}

	aml_device(&a, "KBD_", "PNP0303", 0);
	crs = aml_crs_begin(&a);
	res_io(&a, 0x60, 1);
	res_io(&a, 0x64, 1);
	res_irq(&a, 1);
	aml_crs_end(&a, crs);
	aml_close(&a);

	aml_device(&a, "RTC_", "PNP0B00", 0);
	crs = aml_crs_begin(&a);
	res_io(&a, 0x70, 2);
	res_irq(&a, 8);
	aml_crs_end(&a, crs);
	aml_close(&a);

	if (prm->ecam_base)
		aml_pci_root(&a, prm);

	aml_close(&a); /* \_SB_ */

	if (a.overflow || a.depth != 0)
		return 0;
	return a.len;
}

static uint8_t *build_dsdt(struct area *ar, const struct acpi_params *p, uint64_t *gpa)
{
	uint8_t *t = area_alloc(ar, HDR_LEN, 16, gpa);
	if (!t)
		return NULL;
	size_t body = build_dsdt_body(ar->buf + ar->len, ar->cap - ar->len, p);
	if (!body)
		return NULL;
	ar->len += body;
	/* Revision 2: AML integers are 64 bits wide. */
	table_header(t, "DSDT", (uint32_t)(HDR_LEN + body), 2);
	table_finish(t);
	return t;
}

/* MCFG (PCI Firmware spec 4.1.2): one ECAM allocation, segment 0, buses 0-255. */
static uint8_t *build_mcfg(struct area *ar, const struct acpi_params *p, uint64_t *gpa)
{
	const uint32_t len = HDR_LEN + 8 + 16;
	uint8_t *t = area_alloc(ar, len, 16, gpa);
	if (!t)
		return NULL;
	table_header(t, "MCFG", len, 1);
	put64(t + HDR_LEN + 8, p->ecam_base);
	t[HDR_LEN + 8 + 10] = 0;
	t[HDR_LEN + 8 + 11] = 0xff;
	table_finish(t);
	return t;
}

static uint8_t *build_madt(struct area *ar, const struct acpi_params *p, uint64_t *gpa)
{
	unsigned nx = p->ncpus > 255 ? p->ncpus - 255 : 0; /* APIC ids >= 255 need x2APIC entries */
	unsigned nl = p->ncpus - nx;
	size_t len = HDR_LEN + 8 + 8 * nl + 16 * nx + 12 + 2 * 10 + 6 + (nx ? 12 : 0);
	uint8_t *t = area_alloc(ar, len, 16, gpa);
	if (!t)
		return NULL;
	table_header(t, "APIC", (uint32_t)len, 5);
	put32(t + 36, p->lapic_addr);
	put32(t + 40, MADT_PCAT_COMPAT);
	uint8_t *e = t + 44;

	for (unsigned i = 0; i < nl; i++, e += 8) {
		e[0] = 0;
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id */
		put32(e + 4, 1);   /* enabled */
	}
	for (unsigned i = nl; i < p->ncpus; i++, e += 16) {
		e[0] = 9;
		e[1] = 16;
		put32(e + 4, i); /* x2APIC id */
		put32(e + 8, 1);
		put32(e + 12, i); /* ACPI processor UID */
	}

	/* I/O APIC and Local APIC ids are separate namespaces on xAPIC, but
	 * some guests still expect them apart. */
	e[0] = 1;
	e[1] = 12;
	e[2] = p->ncpus < 255 ? (uint8_t)p->ncpus : 0;
	put32(e + 4, p->ioapic_addr);
	put32(e + 8, 0); /* GSI base */
	e += 12;

	/* The PIT is wired to pin 2 on every PC since the APIC (MP spec 5.1). */
	e[0] = 2;
	e[1] = 10;
	e[3] = 0;
	put32(e + 4, 2);
	put16(e + 8, MPS_EDGE_HIGH);
	e += 10;

	e[0] = 2;
	e[1] = 10;
	e[3] = p->sci_irq;
	put32(e + 4, p->sci_irq);
	put16(e + 8, MPS_LEVEL_HIGH);
	e += 10;

	/* NMI arrives on LINT1 of every processor (UID 0xff = all). */
	e[0] = 4;
	e[1] = 6;
	e[2] = 0xff;
	put16(e + 3, 0);
	e[5] = 1;
	e += 6;
	if (nx) {
		e[0] = 0xa;
		e[1] = 12;
		put16(e + 2, 0);
		put32(e + 4, 0xffffffff);
		e[8] = 1;
	}
	table_finish(t);
	return t;
}

static uint8_t *build_fadt(struct area *ar, const struct acpi_params *p, uint64_t facs, uint64_t dsdt,
			   uint64_t *gpa)
{
	uint8_t *t = area_alloc(ar, FADT_LEN, 16, gpa);
	if (!t)
		return NULL;
	uint16_t pm = p->pm_base;
	uint32_t flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP;

	/* xAPIC logical flat mode addresses at most 8 processors. */
	if (p->ncpus > 8)
		flags |= FADT_APIC_PHYSICAL;

	table_header(t, "FACP", FADT_LEN, 6);
	/* The spec wants exactly one of FIRMWARE_CTRL and X_FIRMWARE_CTRL
	 * non-zero (5.2.9, table 5.9); DSDT and X_DSDT may both be set. */
	if (facs <= UINT32_MAX)
		put32(t + 36, (uint32_t)facs);
	else
		put64(t + 132, facs);
	if (dsdt <= UINT32_MAX)
		put32(t + 40, (uint32_t)dsdt);
	put64(t + 140, dsdt);
	put16(t + 46, p->sci_irq);
	/* SMI_CMD, ACPI_ENABLE, ACPI_DISABLE stay 0: the machine is always in
	 * ACPI mode and SCI_EN reads as set. */
	put32(t + 56, pm);	   /* PM1a_EVT_BLK */
	put32(t + 64, pm + 4u);	   /* PM1a_CNT_BLK */
	put32(t + 76, pm + 8u);	   /* PM_TMR_BLK */
	put32(t + 80, pm + 0x20u); /* GPE0_BLK */
	t[88] = 4;		   /* PM1_EVT_LEN */
	t[89] = 2;		   /* PM1_CNT_LEN */
	t[91] = 4;		   /* PM_TMR_LEN */
	t[92] = 16;		   /* GPE0_BLK_LEN */
	/* Latencies above 100 and 1000 us say C2 and C3 are not supported. */
	put16(t + 96, 0xfff);
	put16(t + 98, 0xfff);
	t[108] = 0x32; /* CENTURY: CMOS register */
	put16(t + 109, BOOT_ARCH_LEGACY_DEV | BOOT_ARCH_8042);
	put32(t + 112, flags);
	gas_io(t + 116, 8, GAS_BYTE, p->reset_port);
	t[128] = p->reset_value;
	t[131] = 0; /* FADT minor version */
	gas_io(t + 148, 32, GAS_WORD, pm);
	gas_io(t + 172, 16, GAS_WORD, pm + 4u);
	gas_io(t + 208, 32, GAS_DWORD, pm + 8u);
	gas_io(t + 220, 128, GAS_BYTE, pm + 0x20u);
	memcpy(t + 268, "VMKIT   ", 8); /* hypervisor vendor identity */
	table_finish(t);
	return t;
}

static void link_ptr(struct acpi_links *l, const uint8_t *buf, const uint8_t *field, uint8_t size)
{
	if (l && l->nptr < ACPI_MAX_LINKS) {
		l->ptr[l->nptr].offset = (uint32_t)(field - buf);
		l->ptr[l->nptr++].size = size;
	}
}

static void link_csum(struct acpi_links *l, const uint8_t *buf, const uint8_t *t, uint32_t sum_at,
		      uint32_t len)
{
	if (l && l->ncsum < ACPI_MAX_LINKS) {
		l->csum[l->ncsum].offset = (uint32_t)(t - buf) + sum_at;
		l->csum[l->ncsum].start = (uint32_t)(t - buf);
		l->csum[l->ncsum++].length = len;
	}
}

static void link_table(struct acpi_links *l, const uint8_t *buf, const uint8_t *t)
{
	if (t)
		link_csum(l, buf, t, 9,
			  (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24);
}

size_t acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_params *p)
{
	struct area ar = {.buf = buf, .cap = cap, .gpa = gpa};
	uint64_t rsdp_gpa, rsdt_gpa, xsdt_gpa, facs_gpa, dsdt_gpa, fadt_gpa, madt_gpa, mcfg_gpa = 0;

	if (!buf || !p || p->ncpus == 0 || (p->nserial && !p->serial) || (gpa & 0xf))
		return 0;

	uint8_t *rsdp = area_alloc(&ar, 36, 16, &rsdp_gpa);
	if (!rsdp)
		return 0;
	uint8_t *facs = area_alloc(&ar, FACS_LEN, 64, &facs_gpa);
	if (!facs)
		return 0;
	memcpy(facs, "FACS", 4);
	put32(facs + 4, FACS_LEN);
	facs[32] = 2; /* version */

	uint8_t *dsdt = build_dsdt(&ar, p, &dsdt_gpa);
	uint8_t *fadt = dsdt ? build_fadt(&ar, p, facs_gpa, dsdt_gpa, &fadt_gpa) : NULL;
	uint8_t *madt = fadt ? build_madt(&ar, p, &madt_gpa) : NULL;
	uint8_t *mcfg = NULL;
	if (!madt)
		return 0;
	if (p->ecam_base && !(mcfg = build_mcfg(&ar, p, &mcfg_gpa)))
		return 0;

	/* The RSDT serves guests that predate ACPI 2.0; it only works while
	 * the tables sit below 4 GiB. */
	uint64_t entries[] = {fadt_gpa, madt_gpa, mcfg_gpa};
	const unsigned n = mcfg_gpa ? 3 : 2;
	uint8_t *rsdt = NULL;
	if (fadt_gpa <= UINT32_MAX && madt_gpa <= UINT32_MAX && mcfg_gpa <= UINT32_MAX) {
		rsdt = area_alloc(&ar, HDR_LEN + 4 * n, 16, &rsdt_gpa);
		if (!rsdt)
			return 0;
		if (rsdt_gpa > UINT32_MAX)
			rsdt = NULL;
	}
	if (rsdt) {
		table_header(rsdt, "RSDT", HDR_LEN + 4 * n, 1);
		for (unsigned i = 0; i < n; i++)
			put32(rsdt + HDR_LEN + 4 * i, (uint32_t)entries[i]);
		table_finish(rsdt);
	}
	uint8_t *xsdt = area_alloc(&ar, HDR_LEN + 8 * n, 16, &xsdt_gpa);
	if (!xsdt)
		return 0;
	table_header(xsdt, "XSDT", HDR_LEN + 8 * n, 1);
	for (unsigned i = 0; i < n; i++)
		put64(xsdt + HDR_LEN + 8 * i, entries[i]);
	table_finish(xsdt);

	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "VMKIT ", 6);
	rsdp[15] = 2;
	if (rsdt)
		put32(rsdp + 16, (uint32_t)rsdt_gpa);
	put32(rsdp + 20, 36);
	put64(rsdp + 24, xsdt_gpa);
	rsdp[8] = acpi_checksum(rsdp, 20);
	rsdp[32] = acpi_checksum(rsdp, 36);

	struct acpi_links *l = p->links;
	if (l) {
		memset(l, 0, sizeof(*l));
		l->rsdp_len = 36;
		if (rsdt)
			link_ptr(l, buf, rsdp + 16, 4);
		link_ptr(l, buf, rsdp + 24, 8);
		link_ptr(l, buf, facs_gpa <= UINT32_MAX ? fadt + 36 : fadt + 132,
			 facs_gpa <= UINT32_MAX ? 4 : 8);
		if (dsdt_gpa <= UINT32_MAX)
			link_ptr(l, buf, fadt + 40, 4);
		link_ptr(l, buf, fadt + 140, 8);
		for (unsigned i = 0; rsdt && i < n; i++)
			link_ptr(l, buf, rsdt + HDR_LEN + 4 * i, 4);
		for (unsigned i = 0; i < n; i++)
			link_ptr(l, buf, xsdt + HDR_LEN + 8 * i, 8);
		link_table(l, buf, dsdt);
		link_table(l, buf, fadt);
		link_table(l, buf, madt);
		link_table(l, buf, mcfg);
		link_table(l, buf, rsdt);
		link_table(l, buf, xsdt);
		link_csum(l, buf, rsdp, 8, 20);
		link_csum(l, buf, rsdp, 32, 36);
	}
	return ar.len;
}
