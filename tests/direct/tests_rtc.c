/* vmkit.t=rtc: CMOS clock vs. now=, register D, CMOS memory size. */
#include "acpi.h"
#include "tests.h"

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned from_bcd(uint8_t v, bool binary)
{
	return binary ? v : (v >> 4) * 10 + (v & 0x0f);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

struct rtc_time {
	uint8_t sec, min, hour, day, mon, year, cent;
};

static bool read_raw(struct rtc_time *t)
{
	unsigned i;
	for (i = 0; i < 2000000 && (cmos(0x0a) & 0x80); i++) /* UIP: update in progress */
		cpu_relax();
	if (i == 2000000)
		return false;
	t->sec = cmos(0), t->min = cmos(2), t->hour = cmos(4);
	t->day = cmos(7), t->mon = cmos(8), t->year = cmos(9), t->cent = cmos(0x32);
	return true;
}

void test_rtc(void)
{
	struct rtc_time a, b;
	bool ok = true;
	/* Read until two consecutive reads agree (no update in between). */
	for (int tries = 0; tries < 10; tries++) {
		ok = read_raw(&a) && read_raw(&b);
		if (!ok || !memcmp(&a, &b, sizeof(a)))
			break;
	}
	tap_check(ok, "rtc-uip-clears", "register A UIP stayed set (A 0x%x)", cmos(0x0a));
	uint8_t regb = cmos(0x0b), regd = cmos(0x0d);
	bool bin = regb & 0x04, h24 = regb & 0x02;
	unsigned sec = from_bcd(a.sec, bin), min = from_bcd(a.min, bin);
	unsigned hour = from_bcd(a.hour & 0x7f, bin);
	if (!h24) {
		bool pm = a.hour & 0x80;
		hour = hour % 12 + (pm ? 12 : 0);
	}
	unsigned day = from_bcd(a.day, bin), mon = from_bcd(a.mon, bin), year = from_bcd(a.year, bin);
	unsigned cent = from_bcd(a.cent, bin);
	unsigned fullyear = (cent >= 19 && cent <= 30) ? cent * 100 + year : (year < 70 ? 2000 + year : 1900 + year);
	printf("# rtc: %04u-%02u-%02u %02u:%02u:%02u (B 0x%x, century 0x%x)\n", fullyear, mon, day, hour, min, sec,
	       regb, a.cent);
	bool sane = sec < 60 && min < 60 && hour < 24 && day >= 1 && day <= 31 && mon >= 1 && mon <= 12;
	tap_check(sane, "rtc-fields", "raw sec 0x%x min 0x%x hour 0x%x day 0x%x mon 0x%x year 0x%x B 0x%x", a.sec,
		  a.min, a.hour, a.day, a.mon, a.year, regb);
	int64_t rtc_unix = days_from_civil(fullyear, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	uint64_t now, tol = arg_u64_or("tolerance", 3);
	if (arg_u64("now", &now)) {
		int64_t d = rtc_unix - (int64_t)now;
		tap_check(d >= -(int64_t)tol && d <= (int64_t)tol, "rtc-time", "RTC %ld, now=%lu, difference %ld s (tolerance %lu)",
			  rtc_unix, now, d, tol);
	} else {
		tap_fail("rtc-time", "no now= on the command line (RTC reads %ld)", rtc_unix);
	}
	tap_check(regd & 0x80, "rtc-vrt", "register D 0x%x (VRT bit 7 clear)", regd);

	uint64_t mem;
	if (arg_u64("mem", &mem)) {
		uint64_t below4g = mem << 20;
		if (below4g > 0x80000000ULL)
			below4g = 0x80000000ULL;
		unsigned got = cmos(0x34) | cmos(0x35) << 8;
		uint64_t want = below4g > (16 << 20) ? (below4g - (16 << 20)) >> 16 : 0;
		if (want > 0xffff)
			want = 0xffff;
		int64_t d = (int64_t)got - (int64_t)want;
		tap_check(d >= -16 && d <= 16, "cmos-mem-above-16m", "CMOS 0x34/0x35 = 0x%x (64 KiB units), expected 0x%lx for mem=%lu",
			  got, want, mem);
	} else {
		tap_fail("cmos-mem-above-16m", "no mem= on the command line");
	}
}
