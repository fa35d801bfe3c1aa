/* Host tool: packs the direct-tier test guest as a "firmware" flash image
 * and makes a matching variable store, for vmkit's EFI boot loader.
 * usage: mkfirmware fwstub.bin kernel.bin code.fd vars.fd
 *   code.fd: [firmware volume header page][padding][kernel.bin, 4 KiB
 *            aligned][fwstub.bin: the last page, reset vector at its end],
 *            at least 64 KiB; fwstub copies kernel.bin to 0x100000.
 *   vars.fd: 128 KiB of erased flash (0xff) behind an NV-data volume
 *            header, which is what vmkit accepts as a variable store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE	   4096u
#define MIN_IMAGE  (64u * 1024)
#define VARS_IMAGE (128u * 1024)

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	size_t cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	if (!buf) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	*len = fread(buf, 1, cap, f);
	if (!feof(f)) {
		fprintf(stderr, "%s: larger than 1 MiB\n", path);
		exit(1);
	}
	fclose(f);
	return buf;
}

static void put_le(unsigned char *p, unsigned n, uint64_t v)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* EFI_FIRMWARE_VOLUME_HEADER: FileSystemGuid at 16, FvLength at 32,
 * "_FVH" at 40, HeaderLength at 48. */
static void fv_header(unsigned char *p, const unsigned char guid[16], uint64_t len)
{
	memcpy(p + 16, guid, 16);
	put_le(p + 32, 8, len);
	memcpy(p + 40, "_FVH", 4);
	put_le(p + 48, 2, 72);
}

static void spew(const char *path, const unsigned char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: mkfirmware fwstub.bin kernel.bin code.fd vars.fd\n");
		return 2;
	}
	size_t stub_len, kern_len;
	unsigned char *stub = slurp(argv[1], &stub_len);
	unsigned char *kern = slurp(argv[2], &kern_len);
	if (stub_len != PAGE) {
		fprintf(stderr, "%s: %zu bytes, want %u\n", argv[1], stub_len, PAGE);
		return 1;
	}
	size_t payload = (kern_len + PAGE - 1) / PAGE * PAGE;
	size_t size = PAGE + payload + PAGE;
	if (size < MIN_IMAGE)
		size = MIN_IMAGE;
	unsigned char *img = calloc(1, size);
	if (!img)
		return 1;
	static const unsigned char fw_guid[16] = "vmkit-test-fw-v1";
	fv_header(img, fw_guid, size);
	memcpy(img + size - PAGE - payload, kern, kern_len);
	memcpy(img + size - PAGE, stub, PAGE);
	put_le(img + size - PAGE, 4, payload);
	put_le(img + size - PAGE + 4, 4, size);
	spew(argv[3], img, size);

	/* EFI_SYSTEM_NV_DATA_FV_GUID, fff12b8d-7696-4c8b-a985-2747075b4f50 */
	static const unsigned char nv_guid[16] = {0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c,
						  0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50};
	unsigned char *vars = malloc(VARS_IMAGE);
	if (!vars)
		return 1;
	memset(vars, 0xff, VARS_IMAGE);
	memset(vars, 0, 72);
	fv_header(vars, nv_guid, VARS_IMAGE);
	spew(argv[4], vars, VARS_IMAGE);
	free(img);
	free(vars);
	free(stub);
	free(kern);
	return 0;
}
