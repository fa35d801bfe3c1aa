/* vmkit.t=smp: INIT-SIPI-SIPI to every AP in the MADT, one at a time. */
#include "acpi.h"
#include "apic.h"
#include "tests.h"

#define TRAMP_BASE 0x8000
#define MAX_CPUS 16
#define AP_STACK 8192

extern char tramp_start[], tramp_end[], tramp_stack[], tramp_cr3[];

static volatile unsigned ap_count;
static volatile uint32_t ap_ids[MAX_CPUS];
static uint8_t ap_stacks[MAX_CPUS][AP_STACK] __attribute__((aligned(16)));

void ap_entry(void);
void ap_entry(void)
{
	idt_init();
	uint32_t id = lapic_id();
	unsigned slot;
	__asm__ volatile("lock xaddl %0, %1" : "=r"(slot), "+m"(ap_count) : "0"(1u) : "memory");
	if (slot < MAX_CPUS)
		ap_ids[slot] = id;
	halt_forever();
}

static void icr(uint8_t dest, uint32_t lo)
{
	lapic_write(0x310, (uint32_t)dest << 24);
	lapic_write(0x300, lo);
	for (int i = 0; i < 100000 && (lapic_read(0x300) & (1 << 12)); i++) /* delivery pending */
		cpu_relax();
}

void test_smp(void)
{
	uint8_t ids[MAX_CPUS];
	unsigned n = madt_lapics(ids, MAX_CPUS);
	uint64_t cpus;
	if (!arg_u64("cpus", &cpus)) {
		tap_fail("smp-cpus", "no cpus= on the command line");
		cpus = n;
	}
	if (n > MAX_CPUS)
		n = MAX_CPUS;
	lapic_enable();
	uint32_t bsp = lapic_id();
	printf("# smp: %u Local APICs in the MADT, BSP id %u\n", n, bsp);
	size_t tlen = (size_t)(tramp_end - tramp_start);
	memcpy((void *)TRAMP_BASE, tramp_start, tlen);
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	*(volatile uint32_t *)(TRAMP_BASE + (tramp_cr3 - tramp_start)) = (uint32_t)cr3;

	unsigned started = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ids[i] == bsp)
			continue;
		unsigned before = ap_count;
		*(volatile uint64_t *)(TRAMP_BASE + (tramp_stack - tramp_start)) =
			(uint64_t)&ap_stacks[started + 1 < MAX_CPUS ? started + 1 : MAX_CPUS - 1][AP_STACK];
		started++;
		icr(ids[i], 0x4500);                    /* INIT, assert */
		udelay(10000);
		for (int s = 0; s < 2 && ap_count == before; s++) {
			icr(ids[i], 0x4600 | TRAMP_BASE >> 12); /* STARTUP */
			uint32_t t0 = pmtmr_read();
			/* 200 us per the MP spec, but wait longer for a slow (emulated) AP */
			while (ap_count == before && pmtmr_ticks_since(t0) < (s ? PMTMR_HZ : PMTMR_HZ / 5))
				cpu_relax();
		}
		char name[32];
		snprintf(name, sizeof(name), "ap-%u-started", ids[i]);
		tap_check(ap_count != before, name, "APIC id %u did not check in after INIT-SIPI-SIPI", ids[i]);
	}
	unsigned got = ap_count;
	tap_check(got == cpus - 1, "ap-count", "%u APs checked in, cpus=%lu (MADT lists %u)", got, cpus, n);
	bool distinct = true;
	for (unsigned i = 0; i < got && i < MAX_CPUS; i++) {
		printf("# ap %u: APIC id %u\n", i, ap_ids[i]);
		if (ap_ids[i] == bsp)
			distinct = false;
		for (unsigned j = 0; j < i; j++)
			if (ap_ids[i] == ap_ids[j])
				distinct = false;
	}
	tap_check(distinct, "ap-ids-distinct", "APIC ids repeat (BSP %u)", bsp);
}
