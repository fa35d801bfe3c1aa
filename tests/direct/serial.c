/* COM1 (16550A at 0x3f8), polled output. */
#include "lib.h"

#define COM1 0x3f8

void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* IER: no interrupts */
	outb(COM1 + 3, 0x80); /* LCR: DLAB */
	outb(COM1 + 0, 0x01); /* 115200 */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8n1 */
	outb(COM1 + 2, 0x00); /* FIFOs off */
	outb(COM1 + 4, 0x03); /* DTR | RTS */
}

void serial_putc(char c)
{
	if (c == '\n')
		serial_putc('\r');
	for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		cpu_relax();
	outb(COM1, (uint8_t)c);
}
