/* What platform devices may ask of the machine that holds them. */
#ifndef VMK_PLATFORM_H
#define VMK_PLATFORM_H

#include <stdint.h>

enum platform_event {
	PLATFORM_EV_POWEROFF = 1, /* ACPI S5 */
	PLATFORM_EV_RESET,	  /* i8042 0xfe, 0xcf9, ACPI reset register */
};

struct platform_hooks {
	void *ctx;
	/* Drives interrupt line gsi (IOAPIC input) to level 0/1. Thread-safe. */
	void (*set_irq)(void *ctx, unsigned gsi, int level);
	/* Asks the machine to power off or reset; returns at once, the vCPU
	 * that caused it stops at its next exit. Thread-safe. */
	void (*system_event)(void *ctx, enum platform_event ev);
};

/* Register helpers for little-endian device register access. */
static inline uint64_t platform_get_le(const uint8_t *d, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static inline void platform_put_le(uint8_t *d, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size && i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
}

#endif
