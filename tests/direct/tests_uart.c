/* vmkit.t=uart: 16550A registers, FIFOs, loopback and a real interrupt
 * through the IOAPIC. Output is deferred while the UART is not printable. */
#include "acpi.h"
#include "apic.h"
#include "tests.h"

#define COM1 0x3f8
#define RBR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define SCR 7
#define VEC_UART 0x40

static volatile unsigned irq_count;
static volatile uint8_t irq_iir, irq_data;
static volatile bool irq_got_data;

static void uart_irq(struct frame *f)
{
	(void)f;
	uint8_t iir = inb(COM1 + IIR);
	irq_iir = iir;
	if ((iir & 0x0f) == 0x04 || (iir & 0x0f) == 0x0c) {
		irq_data = inb(COM1 + RBR);
		irq_got_data = true;
	}
	irq_count++;
}

static void drain_rx(void)
{
	for (int i = 0; i < 64 && (inb(COM1 + LSR) & 1); i++)
		(void)inb(COM1 + RBR);
}

static void check_registers(void)
{
	outb(COM1 + SCR, 0x5a);
	uint8_t a = inb(COM1 + SCR);
	outb(COM1 + SCR, 0xa5);
	uint8_t b = inb(COM1 + SCR);
	tap_check(a == 0x5a && b == 0xa5, "scratch", "wrote 0x5a/0xa5, read 0x%x/0x%x", a, b);

	uint8_t lsr = 0;
	for (int i = 0; i < 100000 && ((lsr = inb(COM1 + LSR)) & 0x60) != 0x60; i++)
		cpu_relax();
	tap_check((lsr & 0x60) == 0x60, "lsr-thre-temt", "LSR 0x%x", lsr);
	tap_defer(true);

	outb(COM1 + LCR, 0x83);
	outb(COM1 + 0, 0x0c);
	outb(COM1 + 1, 0x01);
	uint8_t dll = inb(COM1 + 0), dlm = inb(COM1 + 1);
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	uint8_t dll2 = inb(COM1 + 0), dlm2 = inb(COM1 + 1);
	outb(COM1 + LCR, 0x03);
	uint8_t lcr = inb(COM1 + LCR);
	tap_check(dll == 0x0c && dlm == 0x01 && dll2 == 0x01 && dlm2 == 0, "divisor-latch",
		  "wrote 0x010c/0x0001, read 0x%02x%02x/0x%02x%02x", dlm, dll, dlm2, dll2);
	tap_check(lcr == 0x03, "lcr", "LCR 0x%x after writing 0x03", lcr);

	outb(COM1 + IER, 0);
	outb(COM1 + FCR, 0x07);
	uint8_t iir_fifo = inb(COM1 + IIR);
	tap_check(iir_fifo == 0xc1, "iir-fifo-no-interrupt", "IIR 0x%x with FIFOs on and IER 0 (0xc1 expected)",
		  iir_fifo);
	outb(COM1 + IER, 0x02);
	uint8_t iir_thre = inb(COM1 + IIR);
	tap_check(iir_thre == 0xc2, "iir-thre", "IIR 0x%x with IER.ETBEI and THR empty (0xc2 expected)", iir_thre);
	outb(COM1 + IER, 0);
	outb(COM1 + FCR, 0x00);
	uint8_t iir_nofifo = inb(COM1 + IIR);
	tap_check(iir_nofifo == 0x01, "iir-no-fifo", "IIR 0x%x with FIFOs off and IER 0 (0x01 expected)",
		  iir_nofifo);

	outb(COM1 + MCR, 0x1b); /* loopback | OUT2 | RTS | DTR */
	drain_rx();
	outb(COM1 + RBR, 0x42);
	uint8_t l = 0;
	for (int i = 0; i < 100000 && !((l = inb(COM1 + LSR)) & 1); i++)
		cpu_relax();
	uint8_t got = inb(COM1 + RBR);
	uint8_t l2 = inb(COM1 + LSR);
	tap_check((l & 1) && got == 0x42 && !(l2 & 1), "loopback", "LSR 0x%x, RBR 0x%x (0x42 sent), LSR after 0x%x",
		  l, got, l2);
	uint8_t msr = inb(COM1 + 6);
	tap_check((msr & 0xf0) == 0xb0, "loopback-msr", "MSR 0x%x with MCR 0x1b (0xb0 in the high bits expected)",
		  msr);
	outb(COM1 + MCR, 0x0b);
	tap_defer(false);
	tap_flush();
}

static void check_interrupts(void)
{
	pic_mask_all();
	lapic_enable();
	irq_register(VEC_UART, uart_irq);
	struct gsi_route r = isa_irq_route(4, false, false);
	ioapic_route(r.gsi, VEC_UART, r.level, r.active_low, (uint8_t)lapic_id());
	printf("# uart irq 4 -> gsi %u %s %s, vector 0x%x\n", r.gsi, r.level ? "level" : "edge",
	       r.active_low ? "low" : "high", VEC_UART);
	tap_defer(true);

	/* THR empty interrupt, FIFOs on */
	outb(COM1 + FCR, 0x07);
	irq_count = 0;
	cli();
	outb(COM1 + IER, 0x02);
	bool ok = wait_irq(&irq_count, 500);
	outb(COM1 + IER, 0);
	tap_check(ok && (irq_iir & 0x0f) == 0x02, "irq-thre", "interrupts %u, IIR in handler 0x%x", irq_count,
		  irq_iir);

	/* receive interrupt in loopback */
	outb(COM1 + MCR, 0x1b);
	drain_rx();
	(void)inb(COM1 + IIR);
	irq_count = 0, irq_got_data = false, irq_iir = 0;
	outb(COM1 + IER, 0x01);
	outb(COM1 + RBR, 0x5c);
	ok = wait_irq(&irq_count, 500);
	outb(COM1 + IER, 0);
	tap_check(ok && irq_got_data && irq_data == 0x5c && (irq_iir & 0x0f) == 0x04, "irq-rx-loopback",
		  "interrupts %u, IIR in handler 0x%x, data %s0x%x (0x5c sent)", irq_count, irq_iir,
		  irq_got_data ? "" : "none ", irq_data);
	drain_rx();
	outb(COM1 + MCR, 0x0b);
	outb(COM1 + FCR, 0x00);
	ioapic_mask(r.gsi);
	tap_defer(false);
	tap_flush();
}

void test_uart(void)
{
	check_registers();
	check_interrupts();
}
