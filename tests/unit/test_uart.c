/* Unit tests of the 16550A UART registers, FIFO, loopback and interrupt
 * identification, driven as the guest would through the port-I/O bus. */
#include "../unit/check.h"
#include "platform/uart.h"
#include <string.h>
#include <unistd.h>

static int irq_level = -1, irq_changes;
static int want_more = -1;

static void set_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	irq_level = level;
	irq_changes++;
}

static void want_input(void *ctx, bool more)
{
	(void)ctx;
	want_more = more;
}

static struct bus pio;

static uint8_t in(uint16_t port)
{
	uint8_t v;
	bus_access(&pio, port, &v, 1, false);
	return v;
}

static void out(uint16_t port, uint8_t v)
{
	bus_access(&pio, port, &v, 1, true);
}

int main(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	struct platform_hooks hooks = {.set_irq = set_irq};
	struct uart *u = uart_new(0x3f8, 4, &hooks, p[1], want_input, NULL);
	CHECK(u && uart_attach(u, &pio) == 0, "uart on the bus");

	CHECK((in(0x3fd) & 0x60) == 0x60, "LSR: THRE and TEMT after reset");
	CHECK(in(0x3fa) == 0x01, "IIR: no interrupt pending");
	out(0x3ff, 0x5a);
	CHECK(in(0x3ff) == 0x5a, "scratch register");
	out(0x3fb, 0x83);
	out(0x3f8, 0x01);
	out(0x3f9, 0x00);
	CHECK(in(0x3f8) == 0x01 && in(0x3f9) == 0x00, "divisor latch read back with DLAB");
	out(0x3fb, 0x03);

	out(0x3f8, 'A');
	char c = 0;
	CHECK(read(p[0], &c, 1) == 1 && c == 'A', "THR byte reaches the host fd");

	out(0x3f9, 0x02);
	CHECK(irq_level == 1 && (in(0x3fa) & 0x0f) == 0x02, "enabling THRI raises a THRE interrupt");
	CHECK(irq_level == 0 && (in(0x3fa) & 0x0f) == 0x01, "reading IIR clears THRE, line drops");
	out(0x3f9, 0x00);

	out(0x3fa, 0x07);
	CHECK((in(0x3fa) & 0xc0) == 0xc0, "IIR reports FIFOs enabled");

	out(0x3f9, 0x01);
	size_t took = uart_receive(u, (const uint8_t *)"hi", 2);
	CHECK(took == 2 && irq_level == 1, "host input raises the RX interrupt");
	CHECK((in(0x3fa) & 0x0f) == 0x04 && (in(0x3fd) & 1), "IIR: RX data available, LSR.DR");
	CHECK(in(0x3f8) == 'h' && in(0x3f8) == 'i', "RBR in order");
	CHECK(!(in(0x3fd) & 1) && irq_level == 0, "FIFO empty: DR clear, line drops");

	uint8_t many[40];
	memset(many, 'x', sizeof(many));
	took = uart_receive(u, many, sizeof(many));
	CHECK(took == 16 && want_more == 0, "FIFO takes 16 bytes, then asks the host to wait (took %zu)",
	      took);
	in(0x3f8);
	CHECK(want_more == 1, "reading a byte asks the host for more");
	out(0x3fa, 0x03);
	CHECK(!(in(0x3fd) & 1), "FCR clears the receive FIFO");

	out(0x3fc, 0x10 | 0x03);
	out(0x3f8, 'L');
	CHECK((in(0x3fd) & 1) && in(0x3f8) == 'L', "loopback: THR comes back on RBR");
	CHECK((in(0x3fe) & 0x30) == 0x30, "loopback: MSR CTS/DSR follow RTS/DTR");
	CHECK(uart_receive(u, (const uint8_t *)"z", 1) == 0, "loopback: outside input is held back");
	out(0x3fc, 0x0b);

	uint8_t wide[4] = {0};
	bus_access(&pio, 0x3fe, wide, 4, false);
	CHECK(wide[0] == 0xff && wide[3] == 0xff, "a read straddling the end of the device reads all ones");
	bus_access(&pio, 0x3f8 + 7, wide, 2, true);
	CHECK(in(0x3ff) == 0x5a, "a write straddling the end of the device does nothing");

	uart_free(u);
	close(p[0]);
	close(p[1]);
	return check_done();
}
