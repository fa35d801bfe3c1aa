/* ICH9 ACPI power management I/O block (ICH9 datasheet 13.8.3; ACPI 6.4
 * 4.8.3 fixed hardware registers): PM1_STS/PM1_EN, PM1_CNT, PM_TMR, GPE0,
 * plus the reset control register at 0xcf9 (ICH9 13.7.5). */
#include "platform/devices.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define PM_IO_LEN 0x80 /* the ICH9 PMBASE window; unimplemented registers read 0 */

#define PM1_STS	 0x00
#define PM1_EN	 0x02
#define PM1_CNT	 0x04
#define PM_TMR	 0x08
#define GPE0_STS 0x20
#define GPE0_EN	 0x28
#define GPE0_END 0x30

#define TMR_STS	   (1u << 0)
#define GBL_STS	   (1u << 5)
#define PWRBTN_STS (1u << 8)
#define RTC_STS	   (1u << 10)
#define WAK_STS	   (1u << 15)
/* Status bits that can raise the SCI, and the enable bits that exist. */
#define PM1_SCI_MASK (TMR_STS | GBL_STS | PWRBTN_STS | RTC_STS)
#define PM1_EN_MASK  (PM1_SCI_MASK | (1u << 14))

#define SCI_EN	      (1u << 0)
#define SLP_TYP_SHIFT 10
#define SLP_TYP_MASK  (7u << SLP_TYP_SHIFT)
#define SLP_EN	      (1u << 13)
/* SCI_EN is hardwired, GBL_RLS and SLP_EN are write-only. */
#define PM1_CNT_KEEP ((1u << 1) | SLP_TYP_MASK)

#define PM_TMR_HZ 3579545ULL

#define RST_PORT     0xcf9
#define RST_SYS_RST  (1u << 1)
#define RST_CPU	     (1u << 2)
#define RST_FULL_RST (1u << 3)

struct pm {
	pthread_mutex_t lock;
	struct platform_hooks hooks;
	uint8_t sci_irq;
	uint8_t s5_slp_typ;
	uint16_t sts;
	uint16_t en;
	uint16_t cnt;
	uint8_t gpe[16];
	uint8_t rst_cnt;
	int sci_level;
	uint32_t tmr_carry; /* timer bit 23 seen last, for TMR_STS */
	struct timespec t0;
};

static uint32_t pm_timer(struct pm *pm)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t s = now.tv_sec - pm->t0.tv_sec;
	int64_t ns = now.tv_nsec - pm->t0.tv_nsec;
	if (ns < 0) {
		s--;
		ns += 1000000000;
	}
	uint64_t ticks = (uint64_t)s * PM_TMR_HZ + (uint64_t)ns * PM_TMR_HZ / 1000000000;
	return (uint32_t)ticks;
}

/* TMR_STS is set whenever bit 23 of the counter toggles. Without a timer
 * thread it is noticed when the guest looks at PM1_STS (docs/acpi.md). */
static void pm_update_tmr_sts(struct pm *pm)
{
	uint32_t carry = pm_timer(pm) >> 23;
	if (carry != pm->tmr_carry) {
		pm->tmr_carry = carry;
		pm->sts |= TMR_STS;
	}
}

static void pm_update_sci(struct pm *pm)
{
	int level = (pm->sts & pm->en & PM1_SCI_MASK) != 0;
	for (int i = 0; i < 8; i++)
		level |= (pm->gpe[i] & pm->gpe[8 + i]) != 0;
	if (level != pm->sci_level) {
		pm->sci_level = level;
		pm->hooks.set_irq(pm->hooks.ctx, pm->sci_irq, level);
	}
}

static uint8_t pm_read_byte(struct pm *pm, unsigned off, uint32_t tmr)
{
	switch (off) {
	case PM1_STS:
	case PM1_STS + 1:
		return (uint8_t)(pm->sts >> (8 * (off - PM1_STS)));
	case PM1_EN:
	case PM1_EN + 1:
		return (uint8_t)(pm->en >> (8 * (off - PM1_EN)));
	case PM1_CNT:
	case PM1_CNT + 1:
		return (uint8_t)((pm->cnt | SCI_EN) >> (8 * (off - PM1_CNT)));
	case PM_TMR:
	case PM_TMR + 1:
	case PM_TMR + 2:
		return (uint8_t)(tmr >> (8 * (off - PM_TMR)));
	default:
		if (off >= GPE0_STS && off < GPE0_END)
			return pm->gpe[off - GPE0_STS];
		return 0;
	}
}

static void pm_sleep(struct pm *pm, unsigned typ)
{
	if (typ == pm->s5_slp_typ) {
		pm->hooks.system_event(pm->hooks.ctx, PLATFORM_EV_POWEROFF);
		return;
	}
	/* No S1-S4: wake at once so a guest polling WAK_STS carries on. */
	pm->sts |= WAK_STS;
}

static void pm_write_byte(struct pm *pm, unsigned off, uint8_t v)
{
	switch (off) {
	case PM1_STS:
	case PM1_STS + 1:
		pm->sts &= (uint16_t) ~((unsigned)v << (8 * (off - PM1_STS)));
		break;
	case PM1_EN:
	case PM1_EN + 1: {
		unsigned sh = 8 * (off - PM1_EN);
		pm->en = (uint16_t)((pm->en & ~(0xffu << sh)) | (((unsigned)v << sh) & PM1_EN_MASK));
		break;
	}
	case PM1_CNT:
		pm->cnt = (uint16_t)((pm->cnt & 0xff00) | (v & PM1_CNT_KEEP));
		break;
	case PM1_CNT + 1:
		pm->cnt = (uint16_t)((pm->cnt & 0x00ff) | (((unsigned)v << 8) & PM1_CNT_KEEP));
		if (((unsigned)v << 8) & SLP_EN)
			pm_sleep(pm, (pm->cnt & SLP_TYP_MASK) >> SLP_TYP_SHIFT);
		break;
	default:
		if (off >= GPE0_STS && off < GPE0_EN)
			pm->gpe[off - GPE0_STS] &= (uint8_t)~v;
		else if (off >= GPE0_EN && off < GPE0_END)
			pm->gpe[off - GPE0_STS] = v;
		/* PM_TMR is read-only; the rest of the window is unimplemented. */
		break;
	}
}

static void pm_io_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	pm_update_tmr_sts(pm);
	uint32_t tmr = pm_timer(pm) & 0xffffff; /* one sample for a whole access */
	for (unsigned i = 0; i < size; i++)
		data[i] = off + i < PM_IO_LEN ? pm_read_byte(pm, (unsigned)(off + i), tmr) : 0;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void pm_io_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size; i++) {
		if (off + i < PM_IO_LEN)
			pm_write_byte(pm, (unsigned)(off + i), data[i]);
	}
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void rst_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size; i++)
		data[i] = off + i == 0 ? pm->rst_cnt : 0xff;
	pthread_mutex_unlock(&pm->lock);
}

/* RST_CPU asks for a reset; SYS_RST and FULL_RST choose how hard. A
 * virtual machine cannot reset only the processor, so every kind resets
 * the whole machine, as a full reset does on real hardware. */
static void rst_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct pm *pm = opaque;

	if (off != 0 || size == 0)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->rst_cnt = data[0] & (RST_SYS_RST | RST_CPU | RST_FULL_RST);
	if (data[0] & RST_CPU)
		pm->hooks.system_event(pm->hooks.ctx, PLATFORM_EV_RESET);
	pthread_mutex_unlock(&pm->lock);
}

struct pm *pm_new(struct bus *pio, const struct platform_hooks *hooks, uint16_t pm_base, uint8_t sci_irq,
		  uint8_t s5_slp_typ)
{
	struct pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	if (pthread_mutex_init(&pm->lock, NULL)) {
		free(pm);
		return NULL;
	}
	pm->hooks = *hooks;
	pm->sci_irq = sci_irq;
	pm->s5_slp_typ = s5_slp_typ & 7;
	clock_gettime(CLOCK_MONOTONIC, &pm->t0);

	struct bus_dev io = {.name = "acpi-pm",
			     .base = pm_base,
			     .len = PM_IO_LEN,
			     .opaque = pm,
			     .read = pm_io_read,
			     .write = pm_io_write};
	struct bus_dev rst = {.name = "reset-control",
			      .base = RST_PORT,
			      .len = 1,
			      .opaque = pm,
			      .read = rst_read,
			      .write = rst_write};
	if (bus_register(pio, &io) < 0 || bus_register(pio, &rst) < 0) {
		pthread_mutex_destroy(&pm->lock);
		free(pm);
		return NULL;
	}
	return pm;
}

void pm_press_power_button(struct pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PWRBTN_STS;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void pm_free(struct pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
