/* The port-I/O and MMIO buses: vCPU exits are dispatched to the device whose
 * range holds the address. Registration happens before vCPUs run; dispatch
 * is lock-free and each device protects its own state. */
#ifndef VMK_BUS_H
#define VMK_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_dev {
	const char *name;
	uint64_t base;
	uint64_t len;
	void *opaque;
	/* off is relative to base; size is 1, 2, 4 or 8; data is little-endian. */
	void (*read)(void *opaque, uint64_t off, uint8_t *data, unsigned size);
	void (*write)(void *opaque, uint64_t off, const uint8_t *data, unsigned size);
};

#define BUS_MAX_DEVS 64

struct bus {
	struct bus_dev devs[BUS_MAX_DEVS]; /* sorted by base */
	unsigned ndevs;
};

/* Copies dev in. Returns 0, -EEXIST on overlap, -ENOSPC when full. */
int bus_register(struct bus *bus, const struct bus_dev *dev);
/* Removes the device registered exactly at base and copies it to *out, so
 * an overlapping device can take its range and forward to it (the PCI host
 * and the 0xcf9 reset register share a dword). Returns 0 or -ENOENT. */
int bus_take(struct bus *bus, uint64_t base, struct bus_dev *out);
/* Returns false when no device claims addr; reads then see all ones. */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned size, bool is_write);

#endif
