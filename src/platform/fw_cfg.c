/* fw_cfg as QEMU defines it (docs/specs/fw_cfg.rst in QEMU): a 16-bit
 * selector picks an item, the data port streams its bytes, and the DMA
 * register takes the guest-physical address of an FWCfgDmaAccess
 * {be32 control, be32 length, be64 address} that moves whole buffers.
 * Every guest address goes through gmem_ptr: the guest is not trusted. */
#include "platform/fw_cfg.h"
#include "platform/platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS      (FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES)
#define DIR_ENTRY_LEN  64
#define DMA_ACCESS_LEN 16

struct item {
	uint8_t *data;
	uint32_t len;
};

struct fw_cfg {
	pthread_mutex_t lock;
	const struct gmem *mem;
	/* Keys below FW_CFG_FILE_FIRST index directly; files follow. */
	struct item items[MAX_ITEMS];
	char names[FW_CFG_MAX_FILES][FW_CFG_FILE_NAME_MAX];
	unsigned nfiles;
	uint16_t sel;
	uint32_t offset;
	uint32_t dma_high;
};

static uint32_t get_be(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be(uint8_t *p, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static struct item *current(struct fw_cfg *f)
{
	/* The write channel and architecture bits do not name other items. */
	uint16_t key = f->sel & 0x3fff;
	if (f->sel & 0x8000)
		return NULL;
	return key < MAX_ITEMS ? &f->items[key] : NULL;
}

static int set_item(struct fw_cfg *f, uint16_t key, const void *data, size_t len)
{
	if (key >= MAX_ITEMS || len > UINT32_MAX)
		return -EINVAL;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	free(f->items[key].data);
	f->items[key] = (struct item){.data = copy, .len = (uint32_t)len};
	return 0;
}

int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, size_t len)
{
	if (key >= FW_CFG_FILE_FIRST || key == FW_CFG_FILE_DIR)
		return -EINVAL;
	return set_item(f, key, data, len);
}

/* FW_CFG_FILE_DIR: be32 count, then {be32 size, be16 select, u16 reserved,
 * char name[56]} per file. */
static int rebuild_dir(struct fw_cfg *f)
{
	size_t len = 4 + (size_t)f->nfiles * DIR_ENTRY_LEN;
	uint8_t *dir = calloc(1, len);
	if (!dir)
		return -ENOMEM;
	put_be(dir, 4, f->nfiles);
	for (unsigned i = 0; i < f->nfiles; i++) {
		uint8_t *e = dir + 4 + (size_t)i * DIR_ENTRY_LEN;
		put_be(e, 4, f->items[FW_CFG_FILE_FIRST + i].len);
		put_be(e + 4, 2, FW_CFG_FILE_FIRST + i);
		memcpy(e + 8, f->names[i], FW_CFG_FILE_NAME_MAX);
	}
	int r = set_item(f, FW_CFG_FILE_DIR, dir, len);
	free(dir);
	return r;
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len)
{
	size_t n = strlen(name);
	if (n == 0 || n >= FW_CFG_FILE_NAME_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < f->nfiles; i++)
		if (strcmp(f->names[i], name) == 0)
			return -EEXIST;
	if (f->nfiles == FW_CFG_MAX_FILES)
		return -ENOSPC;
	int r = set_item(f, (uint16_t)(FW_CFG_FILE_FIRST + f->nfiles), data, len);
	if (r < 0)
		return r;
	memset(f->names[f->nfiles], 0, FW_CFG_FILE_NAME_MAX);
	memcpy(f->names[f->nfiles], name, n);
	f->nfiles++;
	return rebuild_dir(f);
}

static void select_item(struct fw_cfg *f, uint16_t key)
{
	f->sel = key;
	f->offset = 0;
}

/* Copies up to len bytes of the current item from the current offset;
 * past the end the guest reads zeros, as on QEMU. */
static void read_data(struct fw_cfg *f, uint8_t *dst, uint32_t len)
{
	struct item *it = current(f);
	uint32_t have = it && f->offset < it->len ? it->len - f->offset : 0;
	uint32_t n = have < len ? have : len;
	if (n)
		memcpy(dst, it->data + f->offset, n);
	memset(dst + n, 0, len - n);
	f->offset += n;
}

/* Runs one FWCfgDmaAccess and writes the outcome back into its control
 * word: 0 when done, the error bit when anything was out of bounds or not
 * allowed. A descriptor outside RAM cannot even be answered. */
static void dma_run(struct fw_cfg *f, uint64_t gpa)
{
	uint8_t *acc = gmem_ptr(f->mem, gpa, DMA_ACCESS_LEN);
	if (!acc)
		return;
	uint8_t raw[DMA_ACCESS_LEN];
	/* One snapshot: a second vCPU rewriting the descriptor cannot change
	 * what was checked. */
	memcpy(raw, acc, sizeof(raw));
	uint32_t control = get_be(raw, 4);
	uint32_t len = get_be(raw + 4, 4);
	uint64_t addr = (uint64_t)get_be(raw + 8, 4) << 32 | get_be(raw + 12, 4);
	bool error = false;

	if (control & FW_CFG_DMA_CTL_SELECT)
		select_item(f, (uint16_t)(control >> 16));
	if (control & FW_CFG_DMA_CTL_READ) {
		uint8_t *dst = len ? gmem_ptr(f->mem, addr, len) : NULL;
		if (len && !dst)
			error = true;
		else if (len)
			read_data(f, dst, len);
	} else if (control & FW_CFG_DMA_CTL_WRITE) {
		/* No item is writable. */
		error = true;
	} else if (control & FW_CFG_DMA_CTL_SKIP) {
		struct item *it = current(f);
		uint32_t have = it && f->offset < it->len ? it->len - f->offset : 0;
		f->offset += have < len ? have : len;
	}
	put_be(acc, 4, error ? FW_CFG_DMA_CTL_ERROR : 0);
}

static void fw_cfg_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct fw_cfg *f = opaque;
	static const char dma_sig[8] = "QEMU CFG";
	memset(data, 0, size);
	pthread_mutex_lock(&f->lock);
	if (off == FW_CFG_PORT_DATA - FW_CFG_PORT_SEL) {
		read_data(f, data, size);
	} else if (off >= FW_CFG_PORT_DMA - FW_CFG_PORT_SEL) {
		unsigned o = (unsigned)(off - (FW_CFG_PORT_DMA - FW_CFG_PORT_SEL));
		for (unsigned i = 0; i < size && o + i < sizeof(dma_sig); i++)
			data[i] = (uint8_t)dma_sig[o + i];
	}
	pthread_mutex_unlock(&f->lock);
}

static void fw_cfg_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct fw_cfg *f = opaque;
	pthread_mutex_lock(&f->lock);
	if (off == 0 && size == 2) {
		select_item(f, (uint16_t)platform_get_le(data, 2));
	} else if (off == FW_CFG_PORT_DMA - FW_CFG_PORT_SEL && size == 4) {
		f->dma_high = get_be(data, 4);
	} else if (off == FW_CFG_PORT_DMA - FW_CFG_PORT_SEL + 4 && size == 4) {
		/* Writing the low half starts the transfer. */
		uint64_t gpa = (uint64_t)f->dma_high << 32 | get_be(data, 4);
		f->dma_high = 0;
		dma_run(f, gpa);
	}
	pthread_mutex_unlock(&f->lock);
}

struct fw_cfg *fw_cfg_new(struct bus *pio, const struct gmem *mem)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	f->mem = mem;
	uint8_t id[4];
	platform_put_le(id, 4, FW_CFG_VERSION_TRADITIONAL | FW_CFG_VERSION_DMA);
	if (set_item(f, FW_CFG_SIGNATURE, "QEMU", 4) < 0 || set_item(f, FW_CFG_ID, id, 4) < 0 ||
	    rebuild_dir(f) < 0) {
		fw_cfg_free(f);
		return NULL;
	}
	struct bus_dev d = {.name = "fw_cfg",
			    .base = FW_CFG_PORT_SEL,
			    .len = FW_CFG_PORT_DMA - FW_CFG_PORT_SEL + 8,
			    .opaque = f,
			    .read = fw_cfg_read,
			    .write = fw_cfg_write};
	if (bus_register(pio, &d) < 0) {
		fw_cfg_free(f);
		return NULL;
	}
	return f;
}

void fw_cfg_free(struct fw_cfg *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < MAX_ITEMS; i++)
		free(f->items[i].data);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
