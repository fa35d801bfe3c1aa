/* Host tool: packs the real-mode part (setup.bin, header inside) and the
 * protected-mode part (kernel.bin, flat at 0x100000) into a bzImage.
 * usage: mkbzimage setup.bin kernel.bin out.bzimage
 * Patches setup_sects, syssize and init_size (kernel.bin holds its own end
 * address, including .bss, as a 64-bit value at offset 0x10). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KERNEL_LOAD 0x100000u
#define MIN_SETUP_SECTS 4

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
		buf = realloc(buf, cap);
	}
	fclose(f);
	*len = n;
	return buf;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s setup.bin kernel.bin out.bzimage\n", argv[0]);
		return 2;
	}
	size_t slen, klen;
	unsigned char *setup = slurp(argv[1], &slen);
	unsigned char *kernel = slurp(argv[2], &klen);
	if (slen < 0x270 || memcmp(setup + 0x202, "HdrS", 4)) {
		fprintf(stderr, "%s: no setup header\n", argv[1]);
		return 1;
	}
	if (klen < 0x400) {
		fprintf(stderr, "%s: too short\n", argv[2]);
		return 1;
	}
	size_t sects = (slen + 511) / 512;
	if (sects < MIN_SETUP_SECTS + 1)
		sects = MIN_SETUP_SECTS + 1;
	size_t setup_size = sects * 512;
	uint64_t end = 0;
	for (int i = 7; i >= 0; i--)
		end = end << 8 | kernel[0x10 + i];
	if (end <= KERNEL_LOAD || end - KERNEL_LOAD < klen) {
		fprintf(stderr, "%s: bad image end 0x%llx at offset 0x10\n", argv[2], (unsigned long long)end);
		return 1;
	}
	size_t total = setup_size + klen;
	unsigned char *out = calloc(1, total);
	if (!out)
		return 1;
	memcpy(out, setup, slen);
	memcpy(out + setup_size, kernel, klen);
	out[0x1f1] = (unsigned char)(sects - 1);
	put32(out + 0x1f4, (uint32_t)((klen + 15) / 16));
	put32(out + 0x260, (uint32_t)(end - KERNEL_LOAD));
	FILE *f = fopen(argv[3], "wb");
	if (!f || fwrite(out, 1, total, f) != total || fclose(f)) {
		perror(argv[3]);
		return 1;
	}
	return 0;
}
