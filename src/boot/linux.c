/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry:
 * the protected-mode kernel goes to 1 MiB, boot_params (the "zero page")
 * gets a copy of the image's setup header with the loader's fields filled
 * in, the e820 map and the RSDP address. */
#include "boot/linux.h"
#include "arch/x86/layout.h"
#include "util/error_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define E820_RAM      1
#define E820_RESERVED 2

#define KERNEL_MAX_SIZE (256ULL << 20)

static void e820_add(struct boot_e820_entry *e, unsigned *n, unsigned max, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	if (*n < max && size)
		e[(*n)++] = (struct boot_e820_entry){.addr = addr, .size = size, .type = type};
}

unsigned linux_e820(const struct gmem *m, struct boot_e820_entry *e, unsigned max)
{
	unsigned n = 0;
	e820_add(e, &n, max, 0, LAYOUT_EBDA, E820_RAM);
	e820_add(e, &n, max, LAYOUT_EBDA, LAYOUT_LOWMEM_END - LAYOUT_EBDA, E820_RESERVED);
	/* The BIOS area holds the ACPI and SMBIOS tables; Linux scans it for
	 * the RSDP and the SMBIOS entry point. */
	e820_add(e, &n, max, LAYOUT_BIOS_AREA, (1ULL << 20) - LAYOUT_BIOS_AREA, E820_RESERVED);
	e820_add(e, &n, max, LAYOUT_KERNEL, gmem_below_4g(m) - LAYOUT_KERNEL, E820_RAM);
	/* Linux trusts the MCFG's ECAM only if it is reserved. */
	e820_add(e, &n, max, LAYOUT_ECAM, LAYOUT_ECAM_SIZE, E820_RESERVED);
	e820_add(e, &n, max, LAYOUT_HIGHMEM, gmem_above_4g(m), E820_RAM);
	return n;
}

uint64_t linux_initrd_addr(const struct gmem *m, uint64_t kernel_end, uint64_t initrd_addr_max, uint64_t size)
{
	uint64_t top = gmem_below_4g(m);
	if (initrd_addr_max + 1 < top)
		top = initrd_addr_max + 1;
	if (size > top)
		return 0;
	uint64_t addr = (top - size) & ~0xfffULL;
	return addr >= kernel_end ? addr : 0;
}

/* Reads a whole file into a fresh buffer; the caller frees it. */
static uint8_t *read_file(const char *path, size_t max, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		*err = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		close(fd);
		return NULL;
	}
	uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			*err = r < 0 ? errno : EIO;
			free(buf);
			buf = NULL;
			break;
		}
		got += (size_t)r;
	}
	if (!buf && got == 0 && st.st_size)
		*err = *err ? *err : ENOMEM;
	close(fd);
	*len = got;
	return buf;
}

static bool load_initrd(const struct gmem *m, const char *path, const struct bzimage_info *bz,
			uint64_t kernel_end, struct linux_boot *out, vmk_error **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return vmk_set_errno(err, VMK_ERR_INITRD_UNREADABLE, "boot_loader.initrd", errno, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vmk_set_error(err, VMK_ERR_INITRD_UNREADABLE, "boot_loader.initrd",
				     "%s is not a regular file", path);
	}
	uint64_t max = (bz->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) ? UINT64_MAX - 1 : bz->initrd_addr_max;
	uint64_t addr = linux_initrd_addr(m, kernel_end, max, (uint64_t)st.st_size);
	uint8_t *dst = addr ? gmem_ptr(m, addr, (uint64_t)st.st_size) : NULL;
	if (!dst) {
		close(fd);
		return vmk_set_error(err, VMK_ERR_INITRD_UNREADABLE, "boot_loader.initrd",
				     "%s (%lld bytes) does not fit in guest memory below 0x%llx", path,
				     (long long)st.st_size, (unsigned long long)gmem_below_4g(m));
	}
	/* Read straight into guest RAM: no second copy of a large initrd. */
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, dst + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			return vmk_set_errno(err, VMK_ERR_INITRD_UNREADABLE, "boot_loader.initrd", e, "%s",
					     path);
		}
		got += (size_t)r;
	}
	close(fd);
	out->initrd_gpa = addr;
	out->initrd_size = (uint64_t)st.st_size;
	return true;
}

bool linux_load(const struct gmem *m, const struct vmk_boot_loader *bl, uint64_t rsdp, struct linux_boot *out,
		vmk_error **err)
{
	memset(out, 0, sizeof(*out));
	size_t len = 0;
	int e = 0;
	uint8_t *img = read_file(bl->kernel, KERNEL_MAX_SIZE, &len, &e);
	if (!img)
		return vmk_set_errno(err, VMK_ERR_KERNEL_UNREADABLE, "boot_loader.kernel", e, "%s",
				     bl->kernel);
	struct bzimage_info bz;
	const char *why = NULL;
	if (bzimage_parse(img, len, &bz, &why) < 0) {
		free(img);
		return vmk_set_error(err, VMK_ERR_KERNEL_FORMAT, "boot_loader.kernel", "%s: %s", bl->kernel,
				     why);
	}
	size_t clen = strlen(bl->cmdline);
	if (clen > bz.cmdline_size || clen >= LAYOUT_CMDLINE_MAX) {
		free(img);
		return vmk_set_error(err, VMK_ERR_CMDLINE_TOO_LONG, "boot_loader.cmdline",
				     "%zu bytes, the kernel accepts at most %u", clen, bz.cmdline_size);
	}

	size_t kernel_size = len - bz.setup_size;
	uint64_t kernel_end = LAYOUT_KERNEL + (bz.init_size > kernel_size ? bz.init_size : kernel_size);
	uint8_t *kdst = gmem_ptr(m, LAYOUT_KERNEL, kernel_end - LAYOUT_KERNEL);
	struct boot_params *bp = gmem_ptr(m, LAYOUT_ZERO_PAGE, sizeof(*bp));
	char *cmdline = gmem_ptr(m, LAYOUT_CMDLINE, clen + 1);
	if (!kdst || !bp || !cmdline) {
		free(img);
		return vmk_set_error(err, VMK_ERR_MEMORY_TOO_SMALL, "memory_size",
				     "%s needs %llu bytes of RAM from 1 MiB on to decompress", bl->kernel,
				     (unsigned long long)(kernel_end - LAYOUT_KERNEL));
	}
	memcpy(kdst, img + bz.setup_size, kernel_size);
	memcpy(cmdline, bl->cmdline, clen + 1);

	memset(bp, 0, sizeof(*bp));
	/* The setup header runs from 0x1f1 to 0x202 + the jump offset at 0x201. */
	size_t hdr_end = 0x202 + img[0x201];
	if (hdr_end > len)
		hdr_end = len;
	if (hdr_end > 0x1f1 + sizeof(bp->hdr))
		hdr_end = 0x1f1 + sizeof(bp->hdr);
	memcpy(&bp->hdr, img + 0x1f1, hdr_end - 0x1f1);
	free(img);

	bp->hdr.type_of_loader = 0xff;
	bp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp->hdr.loadflags &= ~QUIET_FLAG;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.vid_mode = 0xffff;
	bp->hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp->hdr.code32_start = (uint32_t)LAYOUT_KERNEL;
	bp->acpi_rsdp_addr = rsdp;
	bp->e820_entries = (uint8_t)linux_e820(m, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);

	if (bl->initrd && !load_initrd(m, bl->initrd, &bz, kernel_end, out, err))
		return false;
	bp->hdr.ramdisk_image = (uint32_t)out->initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)out->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(out->initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(out->initrd_size >> 32);

	out->entry = LAYOUT_KERNEL + 0x200;
	out->zero_page = LAYOUT_ZERO_PAGE;
	return true;
}
