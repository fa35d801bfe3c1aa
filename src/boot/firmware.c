/* fw_cfg content for firmware. The ACPI tables are built once at address
 * 0, so every pointer inside them is an offset into the "etc/acpi/tables"
 * blob; the table loader tells the firmware to place the blobs, add each
 * blob's address to those offsets and redo the checksums. OVMF then
 * installs every table a pointer leads to. */
#include "boot/firmware.h"
#include "arch/x86/layout.h"
#include "platform/platform.h"
#include "util/error_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TABLES_FILE	     "etc/acpi/tables"
#define RSDP_FILE	     "etc/acpi/rsdp"
#define KVM_TSS_RESERVED     0xfeffc000ULL /* machine.c puts KVM's TSS and identity map here */
#define KVM_TSS_RESERVED_LEN 0x4000ULL
#define ACPI_BLOB_MAX	     0x20000
#define SMBIOS_BLOB_MAX	     0x10000

static void e820_put(uint8_t *out, unsigned *n, unsigned max, uint64_t addr, uint64_t len, uint32_t type)
{
	if (*n == max || len == 0)
		return;
	uint8_t *e = out + (size_t)*n * E820_ENTRY_LEN;
	platform_put_le(e, 8, addr);
	platform_put_le(e + 8, 8, len);
	platform_put_le(e + 16, 4, type);
	(*n)++;
}

unsigned firmware_e820(const struct gmem *m, uint8_t *out, unsigned max)
{
	unsigned n = 0;
	/* The firmware carves the legacy holes out of low RAM itself. OVMF
	 * reserves the ECAM range on Q35 on its own; a second reservation of
	 * the same range here would collide with it. */
	e820_put(out, &n, max, 0, gmem_below_4g(m), 1);
	e820_put(out, &n, max, KVM_TSS_RESERVED, KVM_TSS_RESERVED_LEN, 2);
	e820_put(out, &n, max, LAYOUT_HIGHMEM, gmem_above_4g(m), 1);
	return n;
}

static uint8_t *loader_entry(uint8_t *script, unsigned *n, uint32_t cmd)
{
	uint8_t *e = script + (size_t)(*n)++ * LOADER_ENTRY_LEN;
	memset(e, 0, LOADER_ENTRY_LEN);
	platform_put_le(e, 4, cmd);
	return e;
}

static void loader_name(uint8_t *at, const char *name)
{
	memcpy(at, name, strlen(name));
}

static bool add_acpi(struct fw_cfg *f, const struct acpi_params *ap0, vmk_error **err)
{
	struct acpi_params ap = *ap0;
	struct acpi_links links;
	ap.links = &links;
	uint8_t *tables = calloc(1, ACPI_BLOB_MAX);
	uint8_t *script = calloc(2 + ACPI_MAX_LINKS * 2, LOADER_ENTRY_LEN);
	bool ok = false;
	if (!tables || !script) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
		goto out;
	}
	size_t len = acpi_build(tables, ACPI_BLOB_MAX, 0, &ap);
	if (!len) {
		vmk_set_error(err, VMK_ERR_INTERNAL, NULL, "ACPI tables do not fit");
		goto out;
	}
	uint8_t rsdp[64];
	memcpy(rsdp, tables, links.rsdp_len);
	/* The RSDP lives in its own blob; its bytes at the head of the table
	 * blob are never pointed at. */
	memset(tables, 0, links.rsdp_len);
	/* Checksum fields start at zero: loaders that subtract the new sum
	 * (SeaBIOS) and loaders that store it (OVMF) then agree. */
	for (unsigned i = 0; i < links.ncsum; i++) {
		if (links.csum[i].start < links.rsdp_len)
			rsdp[links.csum[i].offset] = 0;
		else
			tables[links.csum[i].offset] = 0;
	}

	unsigned n = 0;
	uint8_t *e = loader_entry(script, &n, LOADER_ALLOCATE);
	loader_name(e + 4, TABLES_FILE);
	platform_put_le(e + 60, 4, 64);
	e[64] = LOADER_ZONE_HIGH;
	e = loader_entry(script, &n, LOADER_ALLOCATE);
	loader_name(e + 4, RSDP_FILE);
	platform_put_le(e + 60, 4, 16);
	e[64] = LOADER_ZONE_FSEG;
	for (unsigned i = 0; i < links.nptr; i++) {
		bool in_rsdp = links.ptr[i].offset < links.rsdp_len;
		e = loader_entry(script, &n, LOADER_ADD_POINTER);
		loader_name(e + 4, in_rsdp ? RSDP_FILE : TABLES_FILE);
		loader_name(e + 60, TABLES_FILE);
		platform_put_le(e + 116, 4, links.ptr[i].offset);
		e[120] = links.ptr[i].size;
	}
	for (unsigned i = 0; i < links.ncsum; i++) {
		bool in_rsdp = links.csum[i].start < links.rsdp_len;
		e = loader_entry(script, &n, LOADER_ADD_CHECKSUM);
		loader_name(e + 4, in_rsdp ? RSDP_FILE : TABLES_FILE);
		platform_put_le(e + 60, 4, links.csum[i].offset);
		platform_put_le(e + 64, 4, links.csum[i].start);
		platform_put_le(e + 68, 4, links.csum[i].length);
	}
	if (fw_cfg_add_file(f, TABLES_FILE, tables, len) < 0 ||
	    fw_cfg_add_file(f, RSDP_FILE, rsdp, links.rsdp_len) < 0 ||
	    fw_cfg_add_file(f, "etc/table-loader", script, (size_t)n * LOADER_ENTRY_LEN) < 0) {
		vmk_set_error(err, VMK_ERR_INTERNAL, NULL, "cannot add the ACPI tables to fw_cfg");
		goto out;
	}
	ok = true;
out:
	free(tables);
	free(script);
	return ok;
}

bool firmware_fw_cfg_setup(struct fw_cfg *f, const struct gmem *m, unsigned ncpus,
			   const struct acpi_params *ap, vmk_error **err)
{
	uint8_t ram[8], cpus[2], uuid[16] = {0}, wait[4];
	uint8_t e820[8 * E820_ENTRY_LEN];
	platform_put_le(ram, 8, gmem_below_4g(m) + gmem_above_4g(m));
	platform_put_le(cpus, 2, ncpus);
	/* Seconds the firmware waits before retrying when nothing boots. */
	platform_put_le(wait, 4, 0);
	unsigned ne = firmware_e820(m, e820, 8);
	int r = fw_cfg_add_item(f, FW_CFG_RAM_SIZE, ram, sizeof(ram));
	if (r == 0)
		r = fw_cfg_add_item(f, FW_CFG_NB_CPUS, cpus, sizeof(cpus));
	if (r == 0)
		r = fw_cfg_add_item(f, FW_CFG_MAX_CPUS, cpus, sizeof(cpus));
	if (r == 0)
		r = fw_cfg_add_item(f, FW_CFG_UUID, uuid, sizeof(uuid));
	if (r == 0)
		r = fw_cfg_add_file(f, "etc/e820", e820, (size_t)ne * E820_ENTRY_LEN);
	if (r == 0)
		r = fw_cfg_add_file(f, "bootorder", "", 0);
	if (r == 0)
		r = fw_cfg_add_file(f, "etc/boot-fail-wait", wait, sizeof(wait));
	if (r < 0)
		return vmk_set_errno(err, VMK_ERR_INTERNAL, NULL, -r, "cannot fill fw_cfg");
	return add_acpi(f, ap, err);
}

bool firmware_add_smbios(struct fw_cfg *f, const struct smbios_params *p, vmk_error **err)
{
	uint8_t *tables = malloc(SMBIOS_BLOB_MAX);
	if (!tables)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
	size_t len = smbios_tables(tables, SMBIOS_BLOB_MAX, p);
	uint8_t anchor[SMBIOS3_EP_LEN];
	/* The firmware builds its own entry point: the address here is unused. */
	smbios_entry_point(anchor, 0, (uint32_t)len);
	int r = len ? 0 : -E2BIG;
	if (r == 0)
		r = fw_cfg_add_file(f, "etc/smbios/smbios-tables", tables, len);
	if (r == 0)
		r = fw_cfg_add_file(f, "etc/smbios/smbios-anchor", anchor, sizeof(anchor));
	if (r == 0)
		r = fw_cfg_add_item(f, FW_CFG_UUID, p->uuid, sizeof(p->uuid));
	free(tables);
	if (r < 0)
		return vmk_set_errno(err, VMK_ERR_INTERNAL, NULL, -r,
				     "cannot add the SMBIOS tables to fw_cfg");
	return true;
}
