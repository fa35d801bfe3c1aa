/* Constructors of the legacy platform devices. Each returns a heap object
 * (NULL on allocation failure) and registers itself on the port-I/O bus. */
#ifndef VMK_DEVICES_H
#define VMK_DEVICES_H

#include "platform/bus.h"
#include "platform/platform.h"
#include <stdbool.h>

/* CMOS RTC + NVRAM at 0x70/0x71, IRQ 8. Time is the host's (UTC). */
struct rtc;
struct rtc *rtc_new(struct bus *pio, const struct platform_hooks *hooks, uint64_t mem_below_4g,
		    uint64_t mem_above_4g, unsigned ncpus);
void rtc_free(struct rtc *rtc);

/* i8042 keyboard controller at 0x60/0x64: self test, command byte, reset
 * line (command 0xfe), a PS/2 keyboard that answers commands (no keys are
 * ever pressed), no mouse. */
struct i8042;
struct i8042 *i8042_new(struct bus *pio, const struct platform_hooks *hooks);
void i8042_free(struct i8042 *k);

/* ICH9-style ACPI power management block at pm_base (PM1a_EVT, PM1a_CNT,
 * PM_TMR, GPE0) plus the 0xcf9 reset control register. The SCI is level
 * triggered on sci_irq while any enabled PM1 status bit is set. */
struct pm;
struct pm *pm_new(struct bus *pio, const struct platform_hooks *hooks, uint16_t pm_base, uint8_t sci_irq,
		  uint8_t s5_slp_typ);
/* Sets PWRBTN_STS and raises the SCI if the guest enabled it. Thread-safe. */
void pm_press_power_button(struct pm *pm);
void pm_free(struct pm *pm);

#endif
