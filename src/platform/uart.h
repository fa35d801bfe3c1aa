/* 16550A UART (COM port). */
#ifndef VMK_UART_H
#define VMK_UART_H

#include "platform/bus.h"
#include "platform/platform.h"
#include <stddef.h>
#include <stdint.h>

struct uart;

/* out_fd receives what the guest transmits (-1: discard). Input is pushed
 * with uart_receive(); the uart calls want_input(ctx, true) whenever it has
 * room for more after being full. */
struct uart *uart_new(uint16_t base, uint8_t irq, const struct platform_hooks *hooks, int out_fd,
		      void (*want_input)(void *ctx, bool more), void *want_ctx);
/* Registers the 8 ports on the port-I/O bus. */
int uart_attach(struct uart *u, struct bus *pio);
/* Free room in the receive FIFO. */
size_t uart_rx_space(struct uart *u);
/* Queues up to len host bytes for the guest; returns how many were taken. */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);
void uart_free(struct uart *u);

/* Register access, for the bus and for unit tests. */
void uart_read(void *opaque, uint64_t off, uint8_t *data, unsigned size);
void uart_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size);

#endif
