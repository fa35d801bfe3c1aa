/* Intel 8042 keyboard controller at ports 0x60/0x64 (IBM PC/AT Technical
 * Reference, "Keyboard Controller"), with no keyboard and no mouse plugged
 * in: bytes sent to either device come back as 0xfe with the time-out
 * status bit, which is what a real controller reports for an empty port
 * and lets Linux's atkbd and psmouse give up at once instead of waiting. */
#include "platform/devices.h"

#include <pthread.h>
#include <stdlib.h>

#define I8042_DATA   0x60
#define I8042_CMD    0x64
#define I8042_IRQ_KB 1
#define I8042_IRQ_MS 12

#define STS_OBF	     0x01
#define STS_SYS	     0x04
#define STS_CMD	     0x08
#define STS_UNLOCKED 0x10
#define STS_AUX	     0x20
#define STS_TIMEOUT  0x40

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS	   0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20

#define OUT_RESET 0x01

#define NACK 0xfe

struct i8042 {
	pthread_mutex_t lock;
	struct platform_hooks hooks;
	uint8_t status;
	uint8_t ctr;
	uint8_t outport;
	uint8_t obuf;
	uint8_t pending; /* command waiting for its data byte, or 0 */
	int irq_kb;
	int irq_ms;
};

static void set_line(struct i8042 *k, unsigned irq, int *cur, int level)
{
	if (*cur != level) {
		*cur = level;
		k->hooks.set_irq(k->hooks.ctx, irq, level);
	}
}

/* The interrupt lines follow OBF, gated by the command byte. */
static void update_irq(struct i8042 *k)
{
	bool full = k->status & STS_OBF;
	bool aux = k->status & STS_AUX;
	set_line(k, I8042_IRQ_KB, &k->irq_kb, full && !aux && (k->ctr & CTR_KBDINT));
	set_line(k, I8042_IRQ_MS, &k->irq_ms, full && aux && (k->ctr & CTR_AUXINT));
}

static void put_byte(struct i8042 *k, uint8_t v, uint8_t flags)
{
	k->obuf = v;
	k->status = (uint8_t)((k->status & ~(STS_AUX | STS_TIMEOUT)) | STS_OBF | flags);
}

static void reset(struct i8042 *k)
{
	k->hooks.system_event(k->hooks.ctx, PLATFORM_EV_RESET);
}

static void command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case 0x20:
		put_byte(k, k->ctr, 0);
		break;
	case 0x60:
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4:
		k->pending = cmd;
		break;
	case 0xa7:
		k->ctr |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->ctr &= (uint8_t)~CTR_AUXDIS;
		break;
	case 0xa9:
	case 0xab:
		put_byte(k, 0x00, 0);
		break;
	case 0xaa:
		k->status |= STS_SYS;
		put_byte(k, 0x55, 0);
		break;
	case 0xad:
		k->ctr |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case 0xc0:
		put_byte(k, 0x00, 0);
		break;
	case 0xd0:
		put_byte(k, k->outport, 0);
		break;
	default:
		/* 0xf0-0xff pulse output-port lines low; line 0 is reset. */
		if (cmd >= 0xf0 && !(cmd & 1))
			reset(k);
		break;
	}
}

static void data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case 0x60:
		k->ctr = v;
		k->status = (uint8_t)((k->status & ~STS_SYS) | (v & CTR_SYS));
		break;
	case 0xd1:
		k->outport = v;
		if (!(v & OUT_RESET))
			reset(k);
		break;
	case 0xd2:
		put_byte(k, v, 0);
		break;
	case 0xd3:
		put_byte(k, v, STS_AUX);
		break;
	case 0xd4:
		put_byte(k, NACK, STS_AUX | STS_TIMEOUT);
		break;
	default:
		put_byte(k, NACK, STS_TIMEOUT);
		break;
	}
}

/* port is 0 for 0x60 and 4 for 0x64; wider accesses see one register and
 * all ones beyond it. */
static void io_read(struct i8042 *k, unsigned port, uint8_t *d, unsigned size)
{
	pthread_mutex_lock(&k->lock);
	if (port == 0) {
		d[0] = k->obuf;
		k->status &= (uint8_t) ~(STS_OBF | STS_AUX | STS_TIMEOUT);
	} else {
		d[0] = k->status;
	}
	for (unsigned i = 1; i < size; i++)
		d[i] = 0xff;
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static void io_write(struct i8042 *k, unsigned port, const uint8_t *d)
{
	pthread_mutex_lock(&k->lock);
	if (port == 0) {
		k->status &= (uint8_t)~STS_CMD;
		data(k, d[0]);
	} else {
		k->status |= STS_CMD;
		k->pending = 0;
		command(k, d[0]);
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static void data_read(void *opaque, uint64_t off, uint8_t *d, unsigned size)
{
	(void)off;
	io_read(opaque, 0, d, size);
}

static void data_write(void *opaque, uint64_t off, const uint8_t *d, unsigned size)
{
	(void)off;
	if (size)
		io_write(opaque, 0, d);
}

static void cmd_read(void *opaque, uint64_t off, uint8_t *d, unsigned size)
{
	(void)off;
	io_read(opaque, 4, d, size);
}

static void cmd_write(void *opaque, uint64_t off, const uint8_t *d, unsigned size)
{
	(void)off;
	if (size)
		io_write(opaque, 4, d);
}

struct i8042 *i8042_new(struct bus *pio, const struct platform_hooks *hooks)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	if (pthread_mutex_init(&k->lock, NULL)) {
		free(k);
		return NULL;
	}
	k->hooks = *hooks;
	k->status = STS_CMD | STS_UNLOCKED;
	k->ctr = CTR_KBDINT | CTR_AUXINT;
	k->outport = 0xcf; /* reset and A20 lines high, the rest as a real 8042 reads */

	/* Two one-byte ranges: 0x61 is port B of the PIT speaker logic. */
	struct bus_dev dp = {.name = "i8042-data",
			     .base = I8042_DATA,
			     .len = 1,
			     .opaque = k,
			     .read = data_read,
			     .write = data_write};
	struct bus_dev cp = {.name = "i8042-cmd",
			     .base = I8042_CMD,
			     .len = 1,
			     .opaque = k,
			     .read = cmd_read,
			     .write = cmd_write};
	if (bus_register(pio, &dp) < 0 || bus_register(pio, &cp) < 0) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return NULL;
	}
	return k;
}

void i8042_free(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}
