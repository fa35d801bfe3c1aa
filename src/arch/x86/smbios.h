/* SMBIOS 3.0 tables (DMTF DSP0134): what the guest reads as DMI (vendor,
 * product, UUID, CPUs, memory). Firmware gets them through fw_cfg; a
 * direct-booted Linux finds them in the BIOS area, where it scans for the
 * "_SM3_" entry point. */
#ifndef VMK_SMBIOS_H
#define VMK_SMBIOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMBIOS3_EP_LEN	     24
#define SMBIOS_MAX_DIMMS     64
#define SMBIOS_MAX_REGIONS   4
#define SMBIOS_STRING_MAX    64 /* EDK2's SMBIOS_STRING_MAX_LENGTH for old versions; we stay below */
#define SMBIOS_TYPE_BIOS     0
#define SMBIOS_TYPE_SYSTEM   1
#define SMBIOS_TYPE_CHASSIS  3
#define SMBIOS_TYPE_CPU	     4
#define SMBIOS_TYPE_MEMARRAY 16
#define SMBIOS_TYPE_MEMDEV   17
#define SMBIOS_TYPE_MEMMAP   19
#define SMBIOS_TYPE_BOOT     32
#define SMBIOS_TYPE_END	     127

struct smbios_region {
	uint64_t addr, len;
};

struct smbios_params {
	uint8_t uuid[16];    /* RFC 4122 byte order; also the serial number */
	const char *version; /* vmkit's version string */
	bool bios;	     /* add a Type 0 naming vmkit as the BIOS (direct boot: no firmware) */
	unsigned sockets, cores_per_socket, threads_per_core;
	uint32_t cpuid_1_eax, cpuid_1_edx; /* Type 4's processor ID */
	char cpu_vendor[13];		   /* CPUID vendor string, may be empty */
	const struct smbios_region *ram;   /* guest RAM ranges, at most SMBIOS_MAX_REGIONS */
	unsigned nram;
};

/* Builds the structure table (ending with Type 127) into buf. Returns its
 * length, or 0 if it does not fit in cap or the parameters are invalid. */
size_t smbios_tables(uint8_t *buf, size_t cap, const struct smbios_params *p);

/* The 64-bit entry point for a table of len bytes at table_gpa. */
void smbios_entry_point(uint8_t ep[SMBIOS3_EP_LEN], uint64_t table_gpa, uint32_t len);

/* Entry point at offset 0 of buf (guest address gpa, 16-byte aligned), the
 * table right after it. Returns the bytes used, or 0 if it does not fit. */
size_t smbios_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct smbios_params *p);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case. */
void smbios_uuid_format(const uint8_t uuid[16], char out[37]);

/* The host CPU's vendor and signature: KVM passes them through to the guest. */
void smbios_host_cpu(struct smbios_params *p);

#endif
