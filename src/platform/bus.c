/* Address-range dispatch for port I/O and MMIO exits. */
#include "platform/bus.h"
#include <errno.h>
#include <string.h>

int bus_register(struct bus *bus, const struct bus_dev *dev)
{
	if (dev->len == 0 || dev->base + dev->len < dev->base)
		return -EINVAL;
	if (bus->ndevs == BUS_MAX_DEVS)
		return -ENOSPC;
	unsigned i = 0;
	while (i < bus->ndevs && bus->devs[i].base < dev->base)
		i++;
	if (i > 0 && bus->devs[i - 1].base + bus->devs[i - 1].len > dev->base)
		return -EEXIST;
	if (i < bus->ndevs && dev->base + dev->len > bus->devs[i].base)
		return -EEXIST;
	memmove(&bus->devs[i + 1], &bus->devs[i], (bus->ndevs - i) * sizeof(bus->devs[0]));
	bus->devs[i] = *dev;
	bus->ndevs++;
	return 0;
}

int bus_take(struct bus *bus, uint64_t base, struct bus_dev *out)
{
	for (unsigned i = 0; i < bus->ndevs; i++) {
		if (bus->devs[i].base != base)
			continue;
		*out = bus->devs[i];
		memmove(&bus->devs[i], &bus->devs[i + 1], (bus->ndevs - i - 1) * sizeof(bus->devs[0]));
		bus->ndevs--;
		return 0;
	}
	return -ENOENT;
}

static struct bus_dev *bus_find(struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->ndevs;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		struct bus_dev *d = &bus->devs[mid];
		if (addr < d->base)
			hi = mid;
		else if (addr - d->base >= d->len)
			lo = mid + 1;
		else
			return d;
	}
	return NULL;
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned size, bool is_write)
{
	struct bus_dev *d = bus_find(bus, addr);
	/* An access straddling the end of a device goes nowhere: devices only
	 * ever see offsets whose whole access lies inside their range. */
	if (!d || size == 0 || size > 8 || addr - d->base + size > d->len) {
		if (!is_write)
			memset(data, 0xff, size > 8 ? 8 : size);
		return false;
	}
	if (is_write) {
		if (d->write)
			d->write(d->opaque, addr - d->base, data, size);
	} else if (d->read) {
		d->read(d->opaque, addr - d->base, data, size);
	} else {
		memset(data, 0xff, size);
	}
	return true;
}
