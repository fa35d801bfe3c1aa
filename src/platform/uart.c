/* 16550A UART: the registers Linux's 8250 driver and firmware use, a 16-byte
 * receive FIFO, loopback, and the interrupt identification priorities of the
 * National Semiconductor PC16550D datasheet. Transmission is instantaneous:
 * each byte written to THR goes straight to the host fd. */
#include "platform/uart.h"
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define UART_FIFO 16

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI	     0x01
#define IER_THRI     0x02
#define IER_RLSI     0x04
#define IER_MSI	     0x08
#define IIR_NONE     0x01
#define IIR_MSI	     0x00
#define IIR_THRI     0x02
#define IIR_RDI	     0x04
#define IIR_RLSI     0x06
#define IIR_FIFO     0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB     0x80
#define MCR_DTR	     0x01
#define MCR_RTS	     0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define LSR_DR	     0x01
#define LSR_OE	     0x02
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MSR_DCTS     0x01
#define MSR_DDSR     0x02
#define MSR_TERI     0x04
#define MSR_DDCD     0x08
#define MSR_CTS	     0x10
#define MSR_DSR	     0x20
#define MSR_RI	     0x40
#define MSR_DCD	     0x80

struct uart {
	pthread_mutex_t lock;
	uint16_t base;
	uint8_t irq;
	struct platform_hooks hooks;
	int out_fd;
	void (*want_input)(void *ctx, bool more);
	void *want_ctx;
	bool input_paused;

	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	bool thre_pending; /* THR-empty interrupt armed, cleared by IIR read or THR write */
	uint8_t rx[UART_FIFO];
	unsigned rx_head, rx_count;
	int irq_level;
};

static uint8_t uart_iir(struct uart *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
	if ((u->ier & IER_RLSI) && (u->lsr & LSR_OE))
		return IIR_RLSI | fifo;
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI | fifo;
	if ((u->ier & IER_MSI) && (u->msr & 0x0f))
		return IIR_MSI | fifo;
	return IIR_NONE | fifo;
}

/* Called with the lock held after every state change. */
static void uart_update_irq(struct uart *u)
{
	int level = !(uart_iir(u) & IIR_NONE);
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->hooks.set_irq)
			u->hooks.set_irq(u->hooks.ctx, u->irq, level);
	}
}

static void uart_rx_push(struct uart *u, uint8_t b)
{
	if (u->rx_count == UART_FIFO) {
		u->lsr |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO] = b;
	u->rx_count++;
	u->lsr |= LSR_DR;
}

/* In loopback the modem inputs follow the modem outputs (datasheet 8.6). */
static void uart_update_msr(struct uart *u)
{
	uint8_t old = u->msr, m;
	if (u->mcr & MCR_LOOP) {
		m = 0;
		if (u->mcr & MCR_RTS)
			m |= MSR_CTS;
		if (u->mcr & MCR_DTR)
			m |= MSR_DSR;
		if (u->mcr & MCR_OUT1)
			m |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			m |= MSR_DCD;
	} else {
		m = MSR_DCD | MSR_DSR | MSR_CTS;
	}
	uint8_t delta = 0;
	if ((old ^ m) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ m) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(m & MSR_RI))
		delta |= MSR_TERI;
	if ((old ^ m) & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = m | (old & 0x0f) | delta;
}

static void uart_transmit(struct uart *u, uint8_t b)
{
	if (u->mcr & MCR_LOOP) {
		uart_rx_push(u, b);
	} else if (u->out_fd >= 0) {
		/* A full or closed output loses bytes rather than stalling the vCPU forever. */
		ssize_t r;
		do
			r = write(u->out_fd, &b, 1);
		while (r < 0 && errno == EINTR);
	}
	u->thre_pending = true;
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg)
{
	switch (reg) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (!u->rx_count)
			return 0;
		{
			uint8_t b = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO;
			u->rx_count--;
			if (!u->rx_count)
				u->lsr &= ~LSR_DR;
			if (u->input_paused && u->want_input) {
				u->input_paused = false;
				u->want_input(u->want_ctx, true);
			}
			return b;
		}
	case IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case IIR_FCR: {
		uint8_t iir = uart_iir(u);
		if ((iir & 0x0f) == IIR_THRI)
			u->thre_pending = false;
		return iir;
	}
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR: {
		uint8_t v = u->lsr;
		u->lsr &= ~LSR_OE;
		return v;
	}
	case MSR: {
		uint8_t v = u->msr;
		u->msr &= 0xf0;
		return v;
	}
	default:
		return u->scr;
	}
}

static void uart_write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			u->thre_pending = false;
			uart_transmit(u, v);
		}
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			/* Enabling THRI while THR is empty raises it at once, as
			 * drivers that test for a working interrupt expect. */
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case IIR_FCR:
		if (v & FCR_CLEAR_RX) {
			u->rx_count = 0;
			u->lsr &= ~LSR_DR;
			if (u->input_paused && u->want_input) {
				u->input_paused = false;
				u->want_input(u->want_ctx, true);
			}
		}
		u->fcr = v & 0xc9;
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		u->mcr = v & 0x1f;
		uart_update_msr(u);
		if (!(u->mcr & MCR_LOOP) && u->input_paused && u->rx_count < UART_FIFO && u->want_input) {
			u->input_paused = false;
			u->want_input(u->want_ctx, true);
		}
		break;
	case LSR:
	case MSR:
		break; /* read-only; the factory test modes are not emulated */
	default:
		u->scr = v;
		break;
	}
}

void uart_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct uart *u = opaque;
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size; i++)
		data[i] = off + i < 8 ? uart_read_reg(u, (unsigned)(off + i)) : 0xff;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void uart_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct uart *u = opaque;
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size; i++)
		if (off + i < 8)
			uart_write_reg(u, (unsigned)(off + i), data[i]);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

struct uart *uart_new(uint16_t base, uint8_t irq, const struct platform_hooks *hooks, int out_fd,
		      void (*want_input)(void *ctx, bool more), void *want_ctx)
{
	struct uart *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	u->base = base;
	u->irq = irq;
	if (hooks)
		u->hooks = *hooks;
	u->out_fd = out_fd;
	u->want_input = want_input;
	u->want_ctx = want_ctx;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->lcr = 0x03;
	u->dll = 0x0c; /* 9600 baud, the power-on default */
	uart_update_msr(u);
	u->msr &= 0xf0;
	return u;
}

int uart_attach(struct uart *u, struct bus *pio)
{
	struct bus_dev d = {
	    .name = "uart", .base = u->base, .len = 8, .opaque = u, .read = uart_read, .write = uart_write};
	return bus_register(pio, &d);
}

size_t uart_rx_space(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	size_t n = UART_FIFO - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&u->lock);
	size_t n = 0;
	/* In loopback the line is disconnected from the outside world. */
	if (!(u->mcr & MCR_LOOP)) {
		while (n < len && u->rx_count < UART_FIFO)
			uart_rx_push(u, buf[n++]);
	}
	if ((u->rx_count == UART_FIFO || (u->mcr & MCR_LOOP)) && u->want_input) {
		u->input_paused = true;
		u->want_input(u->want_ctx, false);
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

void uart_free(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}
