/* Unit test of the ACPI PM block, the CMOS RTC and the i8042, driven
 * through the port-I/O bus with hooks that record what the devices ask. */
#include "platform/bus.h"
#include "platform/devices.h"
#include <errno.h>

#include "check.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int irq_level[24];
static unsigned irq_calls;
static unsigned ev_poweroff, ev_reset;

static void fake_set_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	if (gsi < 24)
		irq_level[gsi] = level;
	irq_calls++;
}

static void fake_event(void *ctx, enum platform_event ev)
{
	(void)ctx;
	if (ev == PLATFORM_EV_POWEROFF)
		ev_poweroff++;
	else if (ev == PLATFORM_EV_RESET)
		ev_reset++;
}

static const struct platform_hooks hooks = {.set_irq = fake_set_irq, .system_event = fake_event};
static struct bus pio;

static uint32_t in(uint16_t port, unsigned size)
{
	uint8_t d[4] = {0};
	bus_access(&pio, port, d, size, false);
	return (uint32_t)platform_get_le(d, size);
}

static void out(uint16_t port, unsigned size, uint32_t v)
{
	uint8_t d[4];
	platform_put_le(d, size, v);
	bus_access(&pio, port, d, size, true);
}

#define PM  0x600
#define SCI 9

static void test_pm(void)
{
	struct pm *pm = pm_new(&pio, &hooks, PM, SCI, 5);
	CHECK(pm != NULL, "pm_new");
	if (!pm)
		return;

	CHECK(in(PM + 4, 2) & 1, "SCI_EN reads 1");
	pm_press_power_button(pm);
	CHECK(in(PM, 2) & 0x100, "PWRBTN_STS set by the button");
	CHECK(irq_level[SCI] == 0, "no SCI while PWRBTN_EN is clear");
	out(PM + 2, 2, 0x100);
	CHECK(in(PM + 2, 2) == 0x100, "PM1_EN reads back 0x100");
	CHECK(irq_level[SCI] == 1, "SCI raised once PWRBTN_EN is set");
	out(PM, 2, 0x0001);
	CHECK(irq_level[SCI] == 1 && (in(PM, 2) & 0x100), "writing 0 to PWRBTN_STS leaves it");
	out(PM + 1, 1, 0x01); /* byte access to the high half of PM1_STS */
	CHECK(irq_level[SCI] == 0 && !(in(PM, 2) & 0x100), "W1C of PWRBTN_STS lowers the SCI");
	pm_press_power_button(pm);
	CHECK(irq_level[SCI] == 1, "SCI raised again by the next press");
	out(PM, 4, 0x00000100); /* dword access over PM1_STS and PM1_EN clears EN too */
	CHECK(irq_level[SCI] == 0 && in(PM + 2, 2) == 0, "dword write to STS/EN");

	out(PM + 0x28, 1, 0x01);
	CHECK(in(PM + 0x28, 1) == 0x01 && irq_level[SCI] == 0, "GPE0_EN writable, no status, no SCI");

	out(PM + 4, 2, 3u << 10 | 1u << 13);
	CHECK(ev_poweroff == 0, "SLP_EN with SLP_TYP 3 does not power off");
	CHECK(in(PM, 2) & 0x8000, "and sets WAK_STS");
	CHECK(!(in(PM + 4, 2) & (1u << 13)), "SLP_EN reads 0");
	out(PM + 4, 2, 5u << 10);
	CHECK(ev_poweroff == 0 && ((in(PM + 4, 2) >> 10) & 7) == 5, "SLP_TYP without SLP_EN is stored only");
	out(PM + 5, 1, (5u << 10 | 1u << 13) >> 8);
	CHECK(ev_poweroff == 1, "SLP_EN with SLP_TYP 5 powers off");

	uint32_t t1 = in(PM + 8, 4);
	usleep(10000);
	uint32_t t2 = in(PM + 8, 4);
	uint32_t ticks = (t2 - t1) & 0xffffff;
	CHECK(t1 <= 0xffffff && t2 <= 0xffffff, "PM timer is 24 bits");
	CHECK(ticks >= 30000 && ticks < 3579545, "PM timer advanced %u ticks in 10 ms", ticks);
	out(PM + 8, 4, 0);
	CHECK(((in(PM + 8, 4) - t2) & 0xffffff) < 3579545, "PM timer ignores writes");
	CHECK(in(PM + 0x40, 4) == 0, "unimplemented PM registers read 0");

	out(0xcf9, 1, 0x02);
	CHECK(ev_reset == 0 && in(0xcf9, 1) == 0x02, "0xcf9 SYS_RST alone does not reset, reads back");
	out(0xcf9, 1, 0x06);
	CHECK(ev_reset == 1 && in(0xcf9, 1) == 0x06, "0xcf9 RST_CPU|SYS_RST resets");
	ev_reset = 0;
	pm_free(pm);
}

static struct tm rtc_tm(bool binary)
{
	uint8_t r[10];
	struct tm tm = {0};
	for (int i = 0; i < 10; i++) {
		out(0x70, 1, (uint32_t)i);
		r[i] = (uint8_t)in(0x71, 1);
	}
	out(0x70, 1, 0x32);
	unsigned cent = in(0x71, 1);
#define DEC(v) (binary ? (unsigned)(v) : ((v) >> 4) * 10u + ((v)&0xf))
	tm.tm_sec = (int)DEC(r[0]);
	tm.tm_min = (int)DEC(r[2]);
	tm.tm_hour = (int)DEC(r[4]);
	tm.tm_mday = (int)DEC(r[7]);
	tm.tm_mon = (int)DEC(r[8]) - 1;
	tm.tm_year = (int)(DEC(cent) * 100 + DEC(r[9])) - 1900;
	tm.tm_wday = (int)DEC(r[6]) - 1;
#undef DEC
	return tm;
}

static uint8_t cmos(uint8_t reg)
{
	out(0x70, 1, reg);
	return (uint8_t)in(0x71, 1);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	out(0x70, 1, reg);
	out(0x71, 1, v);
}

static void test_rtc(void)
{
	const uint64_t below = 2048ull << 20, above = 1ull << 32;
	struct rtc *rtc = rtc_new(&pio, &hooks, below, above, 4);
	CHECK(rtc != NULL, "rtc_new");
	if (!rtc)
		return;

	CHECK(cmos(0x0d) & 0x80, "register D VRT");
	CHECK((cmos(0x0b) & 0x06) == 0x02, "default 24h BCD");
	for (int mode = 0; mode < 2; mode++) {
		cmos_write(0x0b, mode ? 0x06 : 0x02);
		time_t before = time(NULL);
		struct tm tm = rtc_tm(mode);
		time_t after = time(NULL);
		struct tm copy = tm;
		time_t got = timegm(&copy);
		CHECK(got >= before - 1 && got <= after + 1, "%s RTC time matches time(NULL) (%ld vs %ld)",
		      mode ? "binary" : "BCD", (long)got, (long)before);
		CHECK(tm.tm_wday == copy.tm_wday, "day of week");
	}
	cmos_write(0x0b, 0x02);

	/* A guest that sets the clock keeps its offset to host time. */
	cmos_write(0x0b, 0x82);
	cmos_write(0x09, 0x99);
	cmos_write(0x32, 0x19);
	CHECK(cmos(0x09) == 0x99, "SET freezes the written year");
	cmos_write(0x0b, 0x02);
	struct tm tm = rtc_tm(false);
	CHECK(tm.tm_year == 99, "year 1999 kept after SET clears (got %d)", tm.tm_year + 1900);
	cmos_write(0x0b, 0x82);
	time_t now = time(NULL);
	struct tm host;
	gmtime_r(&now, &host);
	cmos_write(0x09, (uint8_t)((host.tm_year % 100 / 10) << 4 | host.tm_year % 10));
	cmos_write(0x32, (uint8_t)(((host.tm_year + 1900) / 1000) << 4 | (host.tm_year + 1900) / 100 % 10));
	cmos_write(0x0b, 0x02);

	cmos_write(0x0b, 0x00); /* 12-hour mode */
	unsigned h = cmos(0x04);
	unsigned h12 = ((h & 0x7f) >> 4) * 10 + (h & 0xf);
	CHECK(h12 >= 1 && h12 <= 12, "12-hour mode hour 0x%x", h);
	cmos_write(0x0b, 0x02);

	unsigned clear = 0;
	for (int i = 0; i < 1000; i++)
		clear += !(cmos(0x0a) & 0x80);
	CHECK(clear > 0, "UIP is not stuck");
	cmos_write(0x0a, 0xa6);
	CHECK(cmos(0x0a) == 0x26 || cmos(0x0a) == 0xa6, "divider bits writable, UIP read-only");

	unsigned above16 = cmos(0x34) | cmos(0x35) << 8;
	CHECK(above16 == ((2048u - 16) << 20) >> 16, "CMOS 0x34/0x35 = 0x%x", above16);
	unsigned high = cmos(0x5b) | cmos(0x5c) << 8 | cmos(0x5d) << 16;
	CHECK(high == 0x10000, "CMOS 0x5b-0x5d = 0x%x", high);
	CHECK((cmos(0x15) | cmos(0x16) << 8) == 640, "CMOS base memory 640 KiB");
	CHECK((cmos(0x17) | cmos(0x18) << 8) == 0xffff && (cmos(0x30) | cmos(0x31) << 8) == 0xffff,
	      "CMOS extended memory capped");
	cmos_write(0x50, 0x5a);
	CHECK(cmos(0x50) == 0x5a && cmos(0xd0) == 0x5a, "NVRAM storage, index masked to 7 bits");
	CHECK(in(0x70, 1) == 0xff, "index port reads all ones");
	rtc_free(rtc);
}

static void test_i8042(void)
{
	struct i8042 *k = i8042_new(&pio, &hooks);
	CHECK(k != NULL, "i8042_new");
	if (!k)
		return;
	CHECK(!(in(0x64, 1) & 0x02), "IBF clear");
	out(0x64, 1, 0xaa);
	CHECK((in(0x64, 1) & 0x05) == 0x05, "self test fills the output buffer, sets SYS");
	CHECK(in(0x60, 1) == 0x55, "self test returns 0x55");
	CHECK(!(in(0x64, 1) & 0x01), "reading data empties the output buffer");
	out(0x64, 1, 0xab);
	CHECK(in(0x60, 1) == 0x00, "keyboard interface test 0x00");
	out(0x64, 1, 0x60);
	out(0x60, 1, 0x45);
	out(0x64, 1, 0x20);
	CHECK(in(0x60, 1) == 0x45, "command byte round trip");
	irq_level[1] = 0;
	out(0x60, 1, 0xff); /* reset the keyboard */
	CHECK((in(0x64, 1) & 0x41) == 0x01, "keyboard reply waiting, no time-out");
	CHECK(irq_level[1] == 1, "IRQ 1 raised for the reply");
	unsigned calls = irq_calls;
	CHECK(in(0x60, 1) == 0xfa, "reset: ACK");
	CHECK(irq_level[1] == 1 && irq_calls == calls + 2,
	      "IRQ 1 lowered and raised again: an edge for the next byte");
	CHECK(in(0x60, 1) == 0xaa && irq_level[1] == 0 && !(in(0x64, 1) & 1),
	      "then self test passed, IRQ 1 lowered");
	uint8_t id[3];
	out(0x60, 1, 0xf2);
	for (int i = 0; i < 3; i++)
		id[i] = (uint8_t)in(0x60, 1);
	CHECK(id[0] == 0xfa && id[1] == 0xab && id[2] == 0x41,
	      "identify, translated (command byte 0x45): ab 41");
	out(0x64, 1, 0x60);
	out(0x60, 1, 0x05);
	out(0x60, 1, 0xf2);
	for (int i = 0; i < 3; i++)
		id[i] = (uint8_t)in(0x60, 1);
	CHECK(id[0] == 0xfa && id[1] == 0xab && id[2] == 0x83,
	      "identify, untranslated: MF2 keyboard (ab 83)");
	out(0x60, 1, 0xed);
	CHECK(in(0x60, 1) == 0xfa, "set LEDs: ACK");
	out(0x60, 1, 0x07);
	CHECK(in(0x60, 1) == 0xfa, "... and its parameter: ACK");
	out(0x60, 1, 0xf0);
	out(0x60, 1, 0x00);
	uint8_t s[3];
	for (int i = 0; i < 3; i++)
		s[i] = (uint8_t)in(0x60, 1);
	CHECK(s[0] == 0xfa && s[1] == 0xfa && s[2] == 2, "get scan code set: 2");
	out(0x60, 1, 0xf4);
	CHECK(in(0x60, 1) == 0xfa && !(in(0x64, 1) & 1), "enable: ACK, nothing else queued");
	out(0x60, 1, 0x12);
	CHECK(in(0x60, 1) == 0xfe, "unknown command: 0xfe");
	out(0x64, 1, 0xd4);
	out(0x60, 1, 0xff);
	CHECK((in(0x64, 1) & 0x61) == 0x61 && in(0x60, 1) == 0xfe,
	      "absent mouse: 0xfe with time-out and AUX status");
	out(0x64, 1, 0xd3);
	out(0x60, 1, 0x5a);
	CHECK((in(0x64, 1) & 0x21) == 0x21 && in(0x60, 1) == 0x5a, "AUX loopback");
	/* Host keys: set 1 through the translation, E0 for extended keys. */
	CHECK(i8042_key(k, 30, true) == -EAGAIN, "no translation and set 2: keys are not served");
	out(0x64, 1, 0x60);
	out(0x60, 1, 0x45); /* translation on, keyboard interrupt on */
	CHECK(i8042_key(k, 30, true) == 0 && i8042_key(k, 30, false) == 0 && i8042_key(k, 103, true) == 0,
	      "A down, A up, Up down");
	uint8_t sc[4];
	for (int i = 0; i < 4; i++)
		sc[i] = (uint8_t)in(0x60, 1);
	CHECK(sc[0] == 0x1e && sc[1] == 0x9e && sc[2] == 0xe0 && sc[3] == 0x48 && !(in(0x64, 1) & 1),
	      "set 1: 1e 9e e0 48");
	CHECK(i8042_key(k, 0x1ff, true) == -ENOENT, "a key PS/2 does not have");
	out(0x60, 1, 0xf5);
	(void)in(0x60, 1);
	CHECK(i8042_key(k, 30, true) == -EAGAIN, "scanning disabled (0xf5): not served");
	out(0x60, 1, 0xf4);
	(void)in(0x60, 1);
	int typed = 0;
	while (typed < 1000 && i8042_key(k, 30, true) == 0)
		typed++;
	CHECK(typed == 512 && i8042_key(k, 30, true) == -ENOSPC,
	      "a guest that reads nothing: %d bytes, then ENOSPC", typed);
	for (int i = 0; i < 600; i++)
		(void)in(0x60, 1);
	out(0x64, 1, 0xfe);
	CHECK(ev_reset == 1, "0xfe pulses reset");
	out(0x64, 1, 0xd1);
	out(0x60, 1, 0x02);
	CHECK(ev_reset == 2, "output port with bit 0 clear resets");
	ev_reset = 0;
	i8042_free(k);
}

int main(void)
{
	test_pm();
	test_rtc();
	test_i8042();
	return check_done();
}
