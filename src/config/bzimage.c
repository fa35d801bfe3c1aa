/* Header of an x86 bzImage, Linux boot protocol (Documentation/arch/x86/boot.rst).
 * We only accept what our loader can boot: protocol 2.10+ (for
 * kernel_alignment, pref_address and init_size), loaded high, with the
 * 64-bit entry point (XLF_KERNEL_64). */
#include <errno.h>
#include <string.h>

#include "config/config_priv.h"

#define OFF_SETUP_SECTS	     0x1f1
#define OFF_BOOT_FLAG	     0x1fe
#define OFF_HEADER	     0x202
#define OFF_VERSION	     0x206
#define OFF_LOADFLAGS	     0x211
#define OFF_INITRD_ADDR_MAX  0x22c
#define OFF_KERNEL_ALIGNMENT 0x230
#define OFF_RELOCATABLE	     0x234
#define OFF_XLOADFLAGS	     0x236
#define OFF_CMDLINE_SIZE     0x238
#define OFF_PREF_ADDRESS     0x258
#define OFF_INIT_SIZE	     0x260
#define HEADER_END	     0x264

#define BOOT_FLAG	    0xaa55
#define HDRS_MAGIC	    0x53726448 /* "HdrS" */
#define MIN_PROTOCOL	    0x020a
#define LOADED_HIGH	    0x01
#define XLF_KERNEL_64	    0x01
#define SECTOR_SIZE	    512
#define DEFAULT_SETUP_SECTS 4

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int reject(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *info, const char **why)
{
	struct bzimage_info i = {0};

	if (!buf || len < HEADER_END)
		return reject(why, "file too short for a boot protocol header");
	if (le32(buf + OFF_HEADER) != HDRS_MAGIC)
		return reject(why, "no \"HdrS\" boot header at offset 0x202 (not a bzImage)");
	if (le16(buf + OFF_BOOT_FLAG) != BOOT_FLAG)
		return reject(why, "boot flag at offset 0x1fe is not 0xAA55");
	i.protocol = le16(buf + OFF_VERSION);
	if (i.protocol < MIN_PROTOCOL)
		return reject(why, "boot protocol older than 2.10 (kernel before 2.6.31)");
	if (!(buf[OFF_LOADFLAGS] & LOADED_HIGH))
		return reject(why, "kernel is not loaded high (a zImage, not a bzImage)");
	i.xloadflags = le16(buf + OFF_XLOADFLAGS);
	if (!(i.xloadflags & XLF_KERNEL_64))
		return reject(why, "no 64-bit entry point (XLF_KERNEL_64 not set: a 32-bit kernel?)");
	i.setup_sects = buf[OFF_SETUP_SECTS];
	i.setup_size = ((size_t)(i.setup_sects ? i.setup_sects : DEFAULT_SETUP_SECTS) + 1) * SECTOR_SIZE;
	if (len <= i.setup_size)
		return reject(why, "file ends inside the setup code (truncated: no protected-mode kernel)");
	i.cmdline_size = le32(buf + OFF_CMDLINE_SIZE);
	i.initrd_addr_max = le32(buf + OFF_INITRD_ADDR_MAX);
	i.kernel_alignment = le32(buf + OFF_KERNEL_ALIGNMENT);
	i.relocatable = buf[OFF_RELOCATABLE];
	i.pref_address = le64(buf + OFF_PREF_ADDRESS);
	i.init_size = le32(buf + OFF_INIT_SIZE);
	i.file_size = len;
	if (info)
		*info = i;
	return 0;
}
