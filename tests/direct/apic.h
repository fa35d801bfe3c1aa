/* IDT, interrupt handlers, LAPIC, IOAPIC and the MADT facts they need. */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include "lib.h"

struct frame {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vec, err, rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler)(struct frame *f);

void idt_init(void);              /* loads the IDT on this CPU (BSP builds it once) */
void irq_register(uint8_t vec, irq_handler h);
void pic_mask_all(void);

#define LAPIC_BASE 0xfee00000ULL
#define IOAPIC_BASE 0xfec00000ULL
static inline uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline uint32_t lapic_id(void) { return lapic_read(0x20) >> 24; }
void lapic_enable(void);
void lapic_eoi(void);

struct gsi_route {
	uint32_t gsi;
	bool level, active_low;
};
/* ISA IRQ -> GSI with polarity and trigger, from the MADT's overrides. */
struct gsi_route isa_irq_route(uint8_t irq, bool default_level, bool default_low);
void ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low, uint8_t dest);
void ioapic_mask(uint32_t gsi);
uint32_t ioapic_read_redir_lo(uint32_t gsi);

/* Waits with sti;hlt until *count != 0 or a LAPIC-timer watchdog of ms
 * milliseconds (vector 0x41) fires. Returns with interrupts off. */
bool wait_irq(volatile unsigned *count, unsigned ms);

/* MADT: enabled Local APIC ids. Returns the count; fills ids (up to max). */
unsigned madt_lapics(uint8_t *ids, unsigned max);

#endif
