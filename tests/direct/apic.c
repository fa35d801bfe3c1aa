/* IDT and interrupt dispatch, LAPIC/IOAPIC programming, MADT lookups. */
#include "apic.h"
#include "acpi.h"

extern const uint64_t isr_table[256];

struct idt_entry {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
static irq_handler handlers[256];
static bool idt_built;

void idt_init(void)
{
	if (!idt_built) {
		for (int i = 0; i < 256; i++) {
			uint64_t a = isr_table[i];
			idt[i] = (struct idt_entry){ (uint16_t)a, 0x08, 0, 0x8e, (uint16_t)(a >> 16),
						     (uint32_t)(a >> 32), 0 };
		}
		idt_built = true;
	}
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } r = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(r));
}

void irq_register(uint8_t vec, irq_handler h)
{
	handlers[vec] = h;
}

void isr_dispatch(struct frame *f)
{
	if (f->vec < 32) {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		tap_defer(false);
		tap_fail("exception", "vector %lu error 0x%lx rip 0x%lx cr2 0x%lx rsp 0x%lx", f->vec, f->err,
			 f->rip, cr2, f->rsp);
		tap_done_and_poweroff();
	}
	if (f->vec == 0xff)
		return; /* spurious: no EOI */
	if (handlers[f->vec])
		handlers[f->vec](f);
	else
		tap_fail("unexpected-interrupt", "vector %lu", f->vec);
	if (f->vec != 0xff)
		lapic_eoi();
}

void pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void lapic_enable(void)
{
	lapic_write(0x80, 0);           /* TPR: accept everything */
	lapic_write(0xf0, 0x100 | 0xff); /* SVR: enabled, spurious vector 0xff */
}

void lapic_eoi(void)
{
	lapic_write(0xb0, 0);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

static uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low, uint8_t dest)
{
	ioapic_write(0x10 + 2 * gsi, 1u << 16);
	ioapic_write(0x11 + 2 * gsi, (uint32_t)dest << 24);
	ioapic_write(0x10 + 2 * gsi, vector | (level ? 1u << 15 : 0) | (active_low ? 1u << 13 : 0));
}

void ioapic_mask(uint32_t gsi)
{
	ioapic_write(0x10 + 2 * gsi, ioapic_read(0x10 + 2 * gsi) | 1u << 16);
}

uint32_t ioapic_read_redir_lo(uint32_t gsi)
{
	return ioapic_read(0x10 + 2 * gsi);
}

/* Walks the MADT's interrupt controller structures. */
static const uint8_t *madt_next(const uint8_t *p, const uint8_t *end, uint8_t type)
{
	for (; p + 2 <= end && p[1] >= 2; p += p[1])
		if (p[0] == type)
			return p;
	return NULL;
}

struct gsi_route isa_irq_route(uint8_t irq, bool default_level, bool default_low)
{
	struct gsi_route r = { irq, default_level, default_low };
	const struct sdt *m = acpi_find_table("APIC");
	if (!m)
		return r;
	const uint8_t *end = (const uint8_t *)m + m->length;
	for (const uint8_t *p = madt_next((const uint8_t *)m + 44, end, 2); p; p = madt_next(p + p[1], end, 2)) {
		if (p[3] != irq)
			continue;
		uint16_t flags = *(const uint16_t *)(p + 8);
		r.gsi = *(const uint32_t *)(p + 4);
		if ((flags & 3) == 1)
			r.active_low = false;
		else if ((flags & 3) == 3)
			r.active_low = true;
		if ((flags >> 2 & 3) == 1)
			r.level = false;
		else if ((flags >> 2 & 3) == 3)
			r.level = true;
	}
	return r;
}

unsigned madt_lapics(uint8_t *ids, unsigned max)
{
	const struct sdt *m = acpi_find_table("APIC");
	unsigned n = 0;
	if (!m)
		return 0;
	const uint8_t *end = (const uint8_t *)m + m->length;
	for (const uint8_t *p = madt_next((const uint8_t *)m + 44, end, 0); p; p = madt_next(p + p[1], end, 0)) {
		if (!(*(const uint32_t *)(p + 4) & 1))
			continue;
		if (n < max)
			ids[n] = p[3];
		n++;
	}
	return n;
}

static volatile bool watchdog_fired;

static void watchdog_handler(struct frame *f)
{
	(void)f;
	watchdog_fired = true;
}

bool wait_irq(volatile unsigned *count, unsigned ms)
{
	cli();
	watchdog_fired = false;
	irq_register(0x41, watchdog_handler);
	lapic_write(0x3e0, 0x3);        /* divide by 16: 62.5 MHz on KVM's 1 GHz APIC bus */
	lapic_write(0x320, 0x41);       /* one-shot */
	lapic_write(0x380, ms * 62500u);
	while (!*count && !watchdog_fired)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	lapic_write(0x380, 0);
	lapic_write(0x320, 1u << 16);
	return *count != 0;
}
