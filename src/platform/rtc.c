/* MC146818A CMOS real-time clock and NVRAM at ports 0x70/0x71 (Motorola
 * MC146818A datasheet; NVRAM layout as SeaBIOS and OVMF read it).
 * Periodic, alarm and update-ended interrupts are not emulated (docs/acpi.md). */
#include "platform/devices.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define RTC_PORT 0x70

#define REG_SEC	    0x00
#define REG_MIN	    0x02
#define REG_HOUR    0x04
#define REG_WDAY    0x06
#define REG_MDAY    0x07
#define REG_MON	    0x08
#define REG_YEAR    0x09
#define REG_A	    0x0a
#define REG_B	    0x0b
#define REG_C	    0x0c
#define REG_D	    0x0d
#define REG_CENTURY 0x32

#define A_UIP	 0x80
#define B_SET	 0x80
#define B_UIE	 0x10
#define B_BINARY 0x04
#define B_24H	 0x02
#define C_UF	 0x10
#define D_VRT	 0x80
#define HOUR_PM	 0x80

/* The update cycle takes 244 us before the second rolls over (datasheet,
 * "Update cycle"); UIP is high for that long. */
#define UIP_NS 244000

#define NS_PER_S 1000000000LL

struct rtc {
	pthread_mutex_t lock;
	struct platform_hooks hooks;
	uint8_t index;
	uint8_t cmos[128];
	int64_t offset_ns;   /* guest clock minus host CLOCK_REALTIME */
	int64_t last_c_read; /* guest second at the last read of C, for UF */
};

static int64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static uint8_t rtc_enc(const struct rtc *rtc, unsigned v)
{
	if (rtc->cmos[REG_B] & B_BINARY)
		return (uint8_t)v;
	return (uint8_t)((v / 10 % 10) << 4 | v % 10);
}

static unsigned rtc_dec(const struct rtc *rtc, uint8_t v)
{
	if (rtc->cmos[REG_B] & B_BINARY)
		return v;
	return (v >> 4) * 10u + (v & 0xf);
}

/* Writes the guest's current time (unix seconds) into the time registers. */
static void rtc_store_time(struct rtc *rtc, int64_t secs)
{
	time_t t = (time_t)secs;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return;
	unsigned year = (unsigned)(tm.tm_year + 1900);
	unsigned hour = (unsigned)tm.tm_hour;

	rtc->cmos[REG_SEC] = rtc_enc(rtc, (unsigned)tm.tm_sec);
	rtc->cmos[REG_MIN] = rtc_enc(rtc, (unsigned)tm.tm_min);
	if (rtc->cmos[REG_B] & B_24H)
		rtc->cmos[REG_HOUR] = rtc_enc(rtc, hour);
	else
		rtc->cmos[REG_HOUR] =
		    (uint8_t)(rtc_enc(rtc, hour % 12 ? hour % 12 : 12) | (hour >= 12 ? HOUR_PM : 0));
	rtc->cmos[REG_WDAY] = rtc_enc(rtc, (unsigned)tm.tm_wday + 1);
	rtc->cmos[REG_MDAY] = rtc_enc(rtc, (unsigned)tm.tm_mday);
	rtc->cmos[REG_MON] = rtc_enc(rtc, (unsigned)tm.tm_mon + 1);
	rtc->cmos[REG_YEAR] = rtc_enc(rtc, year % 100);
	rtc->cmos[REG_CENTURY] = rtc_enc(rtc, year / 100);
}

/* Reads the time registers back as unix seconds. The guest wrote them, so
 * any byte is possible: out-of-range fields are clamped, never trusted. */
static int64_t rtc_load_time(const struct rtc *rtc)
{
	struct tm tm = {0};
	uint8_t h = rtc->cmos[REG_HOUR];
	unsigned hour;

	if (rtc->cmos[REG_B] & B_24H)
		hour = rtc_dec(rtc, h);
	else
		hour = rtc_dec(rtc, h & 0x7f) % 12 + (h & HOUR_PM ? 12 : 0);
	unsigned cent = rtc_dec(rtc, rtc->cmos[REG_CENTURY]);
	if (cent < 19 || cent > 99)
		cent = 20;
	unsigned mon = rtc_dec(rtc, rtc->cmos[REG_MON]);
	unsigned mday = rtc_dec(rtc, rtc->cmos[REG_MDAY]);

	tm.tm_sec = (int)(rtc_dec(rtc, rtc->cmos[REG_SEC]) % 60);
	tm.tm_min = (int)(rtc_dec(rtc, rtc->cmos[REG_MIN]) % 60);
	tm.tm_hour = (int)(hour % 24);
	tm.tm_mday = mday >= 1 && mday <= 31 ? (int)mday : 1;
	tm.tm_mon = mon >= 1 && mon <= 12 ? (int)mon - 1 : 0;
	tm.tm_year = (int)(cent * 100 + rtc_dec(rtc, rtc->cmos[REG_YEAR]) % 100) - 1900;
	return (int64_t)timegm(&tm);
}

static int64_t rtc_guest_ns(const struct rtc *rtc)
{
	return host_ns() + rtc->offset_ns;
}

static bool rtc_is_time_reg(unsigned r)
{
	return (r <= REG_YEAR && r != 1 && r != 3 && r != 5) || r == REG_CENTURY;
}

static uint8_t rtc_read_reg(struct rtc *rtc, unsigned r)
{
	bool frozen = rtc->cmos[REG_B] & B_SET;

	if (rtc_is_time_reg(r) && !frozen) {
		rtc_store_time(rtc, floor_div(rtc_guest_ns(rtc), NS_PER_S));
		return rtc->cmos[r];
	}
	switch (r) {
	case REG_A: {
		uint8_t a = rtc->cmos[REG_A] & 0x7f;
		int64_t ns = rtc_guest_ns(rtc);
		if (!frozen && ns - floor_div(ns, NS_PER_S) * NS_PER_S >= NS_PER_S - UIP_NS)
			a |= A_UIP;
		return a;
	}
	case REG_C: {
		/* UF is set by every update, enabled or not; reading clears it. */
		int64_t sec = floor_div(rtc_guest_ns(rtc), NS_PER_S);
		uint8_t c = !frozen && sec != rtc->last_c_read ? C_UF : 0;
		rtc->last_c_read = sec;
		return c;
	}
	case REG_D:
		return D_VRT;
	default:
		return rtc->cmos[r];
	}
}

static void rtc_write_reg(struct rtc *rtc, unsigned r, uint8_t v)
{
	bool frozen = rtc->cmos[REG_B] & B_SET;

	if (rtc_is_time_reg(r)) {
		if (frozen) {
			rtc->cmos[r] = v;
			return;
		}
		/* A write to a running clock changes that field only; the second
		 * restarts now, as the divider chain does after a write. */
		rtc_store_time(rtc, floor_div(rtc_guest_ns(rtc), NS_PER_S));
		rtc->cmos[r] = v;
		rtc->offset_ns = rtc_load_time(rtc) * NS_PER_S - host_ns();
		return;
	}
	switch (r) {
	case REG_A:
		rtc->cmos[REG_A] = v & 0x7f;
		break;
	case REG_B:
		/* Setting SET clears UIE; the frozen registers take the new
		 * format, as a guest that switches format while setting expects. */
		if (v & B_SET)
			v &= (uint8_t)~B_UIE;
		rtc->cmos[REG_B] = v;
		if ((v & B_SET) && !frozen)
			rtc_store_time(rtc, floor_div(rtc_guest_ns(rtc), NS_PER_S));
		if (frozen && !(v & B_SET))
			rtc->offset_ns = rtc_load_time(rtc) * NS_PER_S - host_ns();
		break;
	case REG_C:
	case REG_D:
		break;
	default:
		rtc->cmos[r] = v;
		break;
	}
}

static void rtc_io_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct rtc *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	for (unsigned i = 0; i < size; i++)
		data[i] = off + i == 1 ? rtc_read_reg(rtc, rtc->index) : 0xff;
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_io_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct rtc *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	for (unsigned i = 0; i < size; i++) {
		if (off + i == 0)
			rtc->index = data[i] & 0x7f; /* bit 7 masks NMI, which we do not gate */
		else if (off + i == 1)
			rtc_write_reg(rtc, rtc->index, data[i]);
	}
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_put16(struct rtc *rtc, unsigned r, uint64_t v, uint64_t cap)
{
	if (v > cap)
		v = cap;
	rtc->cmos[r] = (uint8_t)v;
	rtc->cmos[r + 1] = (uint8_t)(v >> 8);
}

static void rtc_fill_nvram(struct rtc *rtc, uint64_t below, uint64_t above, unsigned ncpus)
{
	const uint64_t mib = 1 << 20;

	rtc_put16(rtc, 0x15, 640, 0xffff);
	uint64_t ext_kib = below > mib ? (below - mib) >> 10 : 0;
	rtc_put16(rtc, 0x17, ext_kib, 0xffff);
	rtc_put16(rtc, 0x30, ext_kib, 0xffff);
	rtc_put16(rtc, 0x34, below > 16 * mib ? (below - 16 * mib) >> 16 : 0, 0xffff);
	uint64_t high = above >> 16;
	if (high > 0xffffff)
		high = 0xffffff;
	rtc->cmos[0x5b] = (uint8_t)high;
	rtc->cmos[0x5c] = (uint8_t)(high >> 8);
	rtc->cmos[0x5d] = (uint8_t)(high >> 16);
	/* SeaBIOS reads the processor count less one here. */
	rtc->cmos[0x5f] = (uint8_t)(ncpus ? (ncpus > 256 ? 255 : ncpus - 1) : 0);
}

struct rtc *rtc_new(struct bus *pio, const struct platform_hooks *hooks, uint64_t mem_below_4g,
		    uint64_t mem_above_4g, unsigned ncpus)
{
	struct rtc *rtc = calloc(1, sizeof(*rtc));
	if (!rtc)
		return NULL;
	if (pthread_mutex_init(&rtc->lock, NULL)) {
		free(rtc);
		return NULL;
	}
	rtc->hooks = *hooks;
	rtc->cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate */
	rtc->cmos[REG_B] = B_24H;
	rtc_fill_nvram(rtc, mem_below_4g, mem_above_4g, ncpus);

	struct bus_dev d = {.name = "rtc",
			    .base = RTC_PORT,
			    .len = 2,
			    .opaque = rtc,
			    .read = rtc_io_read,
			    .write = rtc_io_write};
	if (bus_register(pio, &d) < 0) {
		pthread_mutex_destroy(&rtc->lock);
		free(rtc);
		return NULL;
	}
	return rtc;
}

void rtc_free(struct rtc *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}
