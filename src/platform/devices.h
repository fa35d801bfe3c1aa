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
/* A host key (evdev code) typed on the PS/2 keyboard. 0; -ENOENT: no PS/2
 * key; -EAGAIN: the guest is not reading keys (disabled, or raw set 2);
 * -ENOSPC: the guest has not read the keys before. */
int i8042_key(struct i8042 *k, uint16_t code, bool pressed);
/* Set 1 scan code of an evdev key (*e0: E0-prefixed), or -1. */
int i8042_set1_code(uint16_t code, bool *e0);
/* Whether the guest reads keys now (what makes i8042_key return -EAGAIN). */
bool i8042_reads_keys(struct i8042 *k);

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
