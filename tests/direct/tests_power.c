/* vmkit.t=powerbutton, reset, pause, halt (poweroff needs no code). */
#include "acpi.h"
#include "apic.h"
#include "tests.h"

#define VEC_SCI 0x50
#define PWRBTN (1u << 8)

static struct acpi_power pw;
static volatile unsigned sci_count;
static volatile uint16_t sci_sts;
static volatile uint64_t sci_rip[4];

/* Level-triggered: quiet the source before EOI by disabling PWRBTN_EN;
 * the test clears the status itself. */
static void sci_irq(struct frame *f)
{
	sci_sts = inw(pw.pm1a_evt);
	if (sci_count < 4)
		sci_rip[sci_count] = f->rip;
	outw(pw.pm1a_evt + 2, inw(pw.pm1a_evt + 2) & ~PWRBTN);
	sci_count++;
}

void test_powerbutton(void)
{
	acpi_power_info(&pw);
	uint64_t timeout = arg_u64_or("timeout", 60);
	pic_mask_all();
	lapic_enable();
	irq_register(VEC_SCI, sci_irq);
	const uint8_t *fadt = (const uint8_t *)acpi_find_table("FACP");
	uint8_t sci = fadt ? (uint8_t)*(const uint16_t *)(fadt + 46) : 9;
	struct gsi_route r = isa_irq_route(sci, true, true);
	printf("# sci irq %u -> gsi %u %s %s; PM1a_EVT 0x%x\n", sci, r.gsi, r.level ? "level" : "edge",
	       r.active_low ? "low" : "high", pw.pm1a_evt);
	outw(pw.pm1a_evt, 0xffff);                 /* clear stale status */
	ioapic_route(r.gsi, VEC_SCI, r.level, r.active_low, (uint8_t)lapic_id());
	outw(pw.pm1a_evt + 2, PWRBTN);            /* PWRBTN_EN */
	uint16_t en = inw(pw.pm1a_evt + 2);
	tap_check(en & PWRBTN, "pwrbtn-en", "PM1_EN 0x%x after writing 0x100", en);
	tap_ok("armed");

	uint16_t sts = 0;
	uint64_t waited = 0;
	sti();
	while (!((sts = inw(pw.pm1a_evt)) & PWRBTN) && !sci_count && waited < timeout * 10) {
		udelay(100000);
		waited++;
	}
	udelay(10000); /* let a pending SCI arrive */
	cli();
	sts = inw(pw.pm1a_evt);
	tap_check(sts & PWRBTN, "pwrbtn-sts", "PM1_STS 0x%x after %lu ms (SCI seen %u times, status 0x%x)", sts,
		  waited * 100, sci_count, sci_sts);
	tap_check(sci_count >= 1 && (sci_sts & PWRBTN), "sci-delivered",
		  "SCI handler ran %u times, PM1_STS there 0x%x (IOAPIC redir 0x%x)", sci_count, sci_sts,
		  ioapic_read_redir_lo(r.gsi));
	/* The handler disabled PWRBTN_EN (line low) before its EOI: one delivery. */
	if (arg_u64_or("sci_once", 1))
		tap_check(sci_count == 1, "sci-once", "SCI handler ran %u times (rip 0x%lx, 0x%lx): the level interrupt was delivered again after the line dropped",
			  sci_count, sci_rip[0], sci_rip[1]);
	else
		printf("# sci-once not checked (sci_once=0): %u deliveries\n", sci_count);
	outw(pw.pm1a_evt, PWRBTN);                /* W1C */
	uint16_t after = inw(pw.pm1a_evt);
	tap_check(!(after & PWRBTN), "pwrbtn-sts-cleared", "PM1_STS 0x%x after writing 1 to PWRBTN_STS", after);
	/* Re-enable: with the status clear the SCI line must stay low. */
	unsigned before = sci_count;
	outw(pw.pm1a_evt + 2, PWRBTN);
	sti();
	udelay(20000);
	cli();
	uint32_t redir = ioapic_read_redir_lo(r.gsi);
	tap_check(sci_count == before && !(redir & (1u << 14)), "sci-deasserted",
		  "SCI handler ran %u more times; IOAPIC redir 0x%x (remote IRR bit 14)", sci_count - before, redir);
	outw(pw.pm1a_evt + 2, 0);
	ioapic_mask(r.gsi);
}

void test_reset(void)
{
	char method[16] = "cf9";
	arg_str("method", method, sizeof(method));
	tap_ok("resetting");
	udelay(1000);
	if (!strncmp(method, "kbd", 4)) {
		for (int i = 0; i < 100000 && (inb(0x64) & 2); i++)
			cpu_relax();
		outb(0x64, 0xfe);
	} else if (!strncmp(method, "triple", 7)) {
		struct __attribute__((packed)) { uint16_t limit; uint64_t base; } null_idt = { 0, 0 };
		__asm__ volatile("lidt %0; ud2" : : "m"(null_idt));
	} else {
		outb(0xcf9, 0x06);
	}
	udelay(200000);
	tap_fail("reset", "still running 200 ms after method=%s", method);
}

void test_pause(void)
{
	uint64_t ticks = arg_u64_or("ticks", 10);
	for (uint64_t i = 1; i <= ticks; i++) {
		udelay(100000);
		char name[32];
		snprintf(name, sizeof(name), "tick %lu", i);
		tap_ok(name);
	}
}

void test_halt(void)
{
	tap_ok("halting");
	halt_forever();
}
