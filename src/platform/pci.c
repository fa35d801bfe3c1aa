/* PCI host bridge, bus 0: configuration space through ECAM (PCIe, what
 * Linux and OVMF use on Q35) and through the 0xcf8/0xcfc mechanism #1, and
 * BAR decoding inside the MMIO window. BARs are decoded from the guest's
 * current BAR values on every access, so firmware that moves them needs no
 * re-registration; devices that cache BAR addresses (ioeventfds) follow
 * through their config_written hook. */
#include "platform/pci.h"
#include "platform/platform.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCI_MAX_SLOTS 32
#define ECAM_SIZE     (256ULL << 20)

struct pci_host {
	struct pci_dev *slots[PCI_MAX_SLOTS];
	struct pci_dev bridge;
	uint32_t cf8;
	/* The reset control register shares the 0xcf8 dword (ICH9: byte 0xcf9). */
	struct bus_dev cf9;
	bool have_cf9;
	uint64_t ecam;
	uint64_t win_base, win_size, win_next;
	uint64_t io_base, io_size, io_next;
	/* Config writes (vCPU threads) and BAR decoding (vCPU threads) race:
	 * readers take it shared. */
	pthread_rwlock_t lock;
};

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id, const struct pci_dev_ops *ops, void *opaque)
{
	memset(d, 0, sizeof(*d));
	platform_put_le(d->cfg + PCI_VENDOR_ID, 2, vendor);
	platform_put_le(d->cfg + PCI_DEVICE_ID, 2, device);
	d->cfg[PCI_REVISION] = revision;
	platform_put_le(d->cfg + PCI_CLASS_PROG, 3, class_code);
	platform_put_le(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, 2, subsys_vendor);
	platform_put_le(d->cfg + PCI_SUBSYSTEM_ID, 2, subsys_id);
	/* Command: I/O, memory, bus master, INTx disable are the guest's. */
	platform_put_le(d->wmask + PCI_COMMAND, 2,
			PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->next_cap = 0x40;
	d->ops = ops;
	d->opaque = opaque;
}

void pci_dev_set_bar(struct pci_dev *d, unsigned n, uint64_t size)
{
	if (n >= PCI_NUM_BARS || size < 4096 || (size & (size - 1)))
		return;
	d->bar_size[n] = size;
	/* 32-bit non-prefetchable memory BAR: the address bits above the size
	 * are writable, which is how sizing by writing all ones works. */
	platform_put_le(d->wmask + PCI_BAR0 + 4 * n, 4, ~(uint32_t)(size - 1));
}

void pci_dev_set_io_bar(struct pci_dev *d, unsigned n, uint64_t size)
{
	if (n >= PCI_NUM_BARS || size < 4 || size > 256 || (size & (size - 1)))
		return;
	d->bar_size[n] = size;
	d->bar_io |= (uint8_t)(1u << n);
	/* Bit 0 says "I/O" (read-only); x86 decodes 16 port bits, so the upper
	 * half reads as zero, which sizing software takes as a 64 KiB space. */
	platform_put_le(d->cfg + PCI_BAR0 + 4 * n, 4, 1);
	platform_put_le(d->wmask + PCI_BAR0 + 4 * n, 4, ~(uint32_t)(size - 1) & 0xfffcu);
}

uint8_t pci_dev_add_cap(struct pci_dev *d, uint8_t id, unsigned len)
{
	uint8_t off = d->next_cap;
	if (off == 0 || off + len > 256)
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = d->cfg[PCI_CAPABILITY_LIST];
	d->cfg[PCI_CAPABILITY_LIST] = off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	unsigned next = (off + len + 3) & ~3u;
	d->next_cap = next >= 256 ? 0 : (uint8_t)next;
	return off;
}

uint64_t pci_dev_bar_addr(const struct pci_dev *d, unsigned n)
{
	if (n >= PCI_NUM_BARS || !d->bar_size[n])
		return 0;
	if (d->bar_io & (1u << n))
		return d->cfg[PCI_COMMAND] & PCI_COMMAND_IO
			   ? platform_get_le(d->cfg + PCI_BAR0 + 4 * n, 4) & 0xfffcu
			   : 0;
	if (!(d->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY))
		return 0;
	return platform_get_le(d->cfg + PCI_BAR0 + 4 * n, 4) & ~0xfULL;
}

static struct pci_dev *pci_find(struct pci_host *h, unsigned devfn)
{
	/* Bus 0 only, function 0 only: single-function devices. */
	if (devfn >= 256 || (devfn & 7))
		return NULL;
	return h->slots[devfn >> 3];
}

void pci_host_cfg_read(struct pci_host *h, unsigned devfn, unsigned off, uint8_t *data, unsigned size)
{
	/* Slots are filled before vCPUs run: the lookup needs no lock here. */
	struct pci_dev *d = pci_find(h, devfn);
	if (d && d->ops && d->ops->config_read && off < PCI_CFG_SIZE && size <= PCI_CFG_SIZE - off)
		d->ops->config_read(d->opaque, off, size);
	pthread_rwlock_rdlock(&h->lock);
	for (unsigned i = 0; i < size; i++)
		data[i] = d && off + i < PCI_CFG_SIZE ? d->cfg[off + i] : 0xff;
	pthread_rwlock_unlock(&h->lock);
}

void pci_host_cfg_write(struct pci_host *h, unsigned devfn, unsigned off, const uint8_t *data, unsigned size)
{
	pthread_rwlock_wrlock(&h->lock);
	struct pci_dev *d = pci_find(h, devfn);
	if (!d || off >= PCI_CFG_SIZE || size > PCI_CFG_SIZE - off) {
		pthread_rwlock_unlock(&h->lock);
		return;
	}
	for (unsigned i = 0; i < size; i++) {
		uint8_t m = d->wmask[off + i];
		d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (data[i] & m));
	}
	pthread_rwlock_unlock(&h->lock);
	if (d->ops && d->ops->config_written)
		d->ops->config_written(d->opaque, off, size);
}

static void ecam_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	/* Bus 0 only: other buses read as absent. */
	if (off >> 20) {
		memset(data, 0xff, size);
		return;
	}
	pci_host_cfg_read(h, (unsigned)(off >> 12) & 0xff, (unsigned)(off & 0xfff), data, size);
}

static void ecam_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	if (off >> 20)
		return;
	pci_host_cfg_write(h, (unsigned)(off >> 12) & 0xff, (unsigned)(off & 0xfff), data, size);
}

/* Mechanism #1: 0xcf8 holds enable | bus | devfn | register, 0xcfc-0xcff
 * the data; extended registers 0x100+ are reachable only through ECAM. */
static void cf8_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	if (off == 1 && size == 1 && h->have_cf9) {
		h->cf9.read(h->cf9.opaque, 0, data, 1);
		return;
	}
	if (off < 4) {
		for (unsigned i = 0; i < size; i++)
			data[i] = off + i < 4 ? (uint8_t)(h->cf8 >> (8 * (off + i))) : 0xff;
		return;
	}
	uint32_t a = h->cf8;
	if (!(a & 0x80000000u) || ((a >> 16) & 0xff)) {
		memset(data, 0xff, size);
		return;
	}
	pci_host_cfg_read(h, (a >> 8) & 0xff, (a & 0xfc) + (unsigned)(off - 4), data, size);
}

static void cf8_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	if (off == 1 && size == 1 && h->have_cf9) {
		h->cf9.write(h->cf9.opaque, 0, data, 1);
		return;
	}
	if (off < 4) {
		/* Only a full dword write selects an address. */
		if (off == 0 && size == 4)
			h->cf8 = (uint32_t)platform_get_le(data, 4);
		return;
	}
	uint32_t a = h->cf8;
	if (!(a & 0x80000000u) || ((a >> 16) & 0xff))
		return;
	pci_host_cfg_write(h, (a >> 8) & 0xff, (a & 0xfc) + (unsigned)(off - 4), data, size);
}

/* Finds the device and BAR (memory or I/O) whose current decode holds addr. */
static struct pci_dev *bar_lookup(struct pci_host *h, bool io, uint64_t addr, unsigned *bar, uint64_t *off)
{
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_dev *d = h->slots[s];
		if (!d)
			continue;
		for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
			if (!(d->bar_io & (1u << n)) != !io)
				continue;
			uint64_t base = pci_dev_bar_addr(d, n);
			if (base && addr >= base && addr - base < d->bar_size[n]) {
				*bar = n;
				*off = addr - base;
				return d;
			}
		}
	}
	return NULL;
}

static void bar_access(struct pci_host *h, bool io, uint64_t addr, uint8_t *data, unsigned size, bool write)
{
	unsigned bar;
	uint64_t boff;
	pthread_rwlock_rdlock(&h->lock);
	struct pci_dev *d = bar_lookup(h, io, addr, &bar, &boff);
	pthread_rwlock_unlock(&h->lock);
	bool ok = d && boff + size <= d->bar_size[bar] && d->ops;
	if (write && ok && d->ops->bar_write)
		d->ops->bar_write(d->opaque, bar, boff, data, size);
	else if (!write && ok && d->ops->bar_read)
		d->ops->bar_read(d->opaque, bar, boff, data, size);
	else if (!write)
		memset(data, 0xff, size);
}

static void window_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	bar_access(h, false, h->win_base + off, data, size, false);
}

static void window_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	bar_access(h, false, h->win_base + off, (uint8_t *)data, size, true);
}

static void io_window_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	bar_access(h, true, h->io_base + off, data, size, false);
}

static void io_window_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct pci_host *h = opaque;
	bar_access(h, true, h->io_base + off, (uint8_t *)data, size, true);
}

struct pci_host *pci_host_new(struct bus *pio, struct bus *mmio, uint64_t ecam, uint64_t win_base,
			      uint64_t win_size, uint64_t io_base, uint64_t io_size)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_rwlock_init(&h->lock, NULL);
	h->ecam = ecam;
	h->win_base = h->win_next = win_base;
	h->win_size = win_size;
	h->io_base = h->io_next = io_base;
	h->io_size = io_size;
	/* The Q35 host bridge (MCH) at 00.0, as Linux and OVMF expect. */
	pci_dev_init(&h->bridge, 0x8086, 0x29c0, 0x060000, 0, 0x1af4, 0x1100, NULL, NULL);
	h->slots[0] = &h->bridge;
	struct bus_dev e = {.name = "pci-ecam",
			    .base = ecam,
			    .len = ECAM_SIZE,
			    .opaque = h,
			    .read = ecam_read,
			    .write = ecam_write};
	struct bus_dev c = {
	    .name = "pci-cf8", .base = 0xcf8, .len = 8, .opaque = h, .read = cf8_read, .write = cf8_write};
	h->have_cf9 = bus_take(pio, 0xcf9, &h->cf9) == 0 && h->cf9.read && h->cf9.write;
	struct bus_dev w = {.name = "pci-window",
			    .base = win_base,
			    .len = win_size,
			    .opaque = h,
			    .read = window_read,
			    .write = window_write};
	struct bus_dev io = {.name = "pci-io-window",
			     .base = io_base,
			     .len = io_size,
			     .opaque = h,
			     .read = io_window_read,
			     .write = io_window_write};
	if (bus_register(mmio, &e) < 0 || bus_register(pio, &c) < 0 || bus_register(mmio, &w) < 0 ||
	    (io_size && bus_register(pio, &io) < 0)) {
		pci_host_free(h);
		return NULL;
	}
	return h;
}

int pci_host_add(struct pci_host *h, struct pci_dev *d)
{
	unsigned s = 1;
	while (s < PCI_MAX_SLOTS && h->slots[s])
		s++;
	return pci_host_add_slot(h, d, s);
}

int pci_host_add_slot(struct pci_host *h, struct pci_dev *d, unsigned s)
{
	if (s == 0 || s >= PCI_MAX_SLOTS || h->slots[s])
		return -ENOSPC;
	/* Firmware's job done here for direct Linux boot: naturally aligned
	 * BARs in their windows, decode on. The guest may move them. */
	uint64_t mem_next = h->win_next, io_next = h->io_next;
	for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
		uint64_t size = d->bar_size[n];
		if (!size)
			continue;
		bool io = d->bar_io & (1u << n);
		uint64_t *next = io ? &io_next : &mem_next;
		uint64_t addr = (*next + size - 1) & ~(size - 1);
		if (io ? addr + size > h->io_base + h->io_size : addr + size > h->win_base + h->win_size)
			return -ENOSPC;
		platform_put_le(d->cfg + PCI_BAR0 + 4 * n, 4, addr | (io ? 1 : 0));
		*next = addr + size;
		d->cfg[PCI_COMMAND] |= io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	}
	h->win_next = mem_next;
	h->io_next = io_next;
	d->slot = s;
	pthread_rwlock_wrlock(&h->lock);
	h->slots[s] = d;
	pthread_rwlock_unlock(&h->lock);
	return 0;
}

void pci_host_free(struct pci_host *h)
{
	if (!h)
		return;
	pthread_rwlock_destroy(&h->lock);
	free(h);
}
