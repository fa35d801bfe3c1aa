/* Intel 8042 keyboard controller at ports 0x60/0x64 (IBM PC/AT Technical
 * Reference, "Keyboard Controller") with a PS/2 keyboard that answers
 * commands and types the keys the host injects (i8042_key), and no mouse: bytes sent to the
 * mouse come back as 0xfe with the time-out status bit, which is what a
 * real controller reports for an empty port (Linux's psmouse gives up at
 * once). The keyboard is there because firmware does not give up at once:
 * OVMF's PS/2 driver waits a full time-out for every reply an absent
 * keyboard never sends, about 4.5 s of polling port 0x64 per boot. */
#include "platform/devices.h"

#include <errno.h>
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
#define ACK  0xfa
/* Command replies and typed keys wait here: a typed line of text (60 keys,
 * make and break, some with Shift) fits. */
#define QLEN 512

/* Replies to a keyboard command that takes a parameter byte next. */
enum kbd_param { KP_NONE, KP_LEDS, KP_TYPEMATIC, KP_SCANSET };

struct i8042 {
	pthread_mutex_t lock;
	struct platform_hooks hooks;
	uint8_t status;
	uint8_t ctr;
	uint8_t outport;
	uint8_t obuf;	 /* last byte handed to the guest (read again when empty) */
	uint8_t pending; /* command waiting for its data byte, or 0 */
	/* Bytes waiting behind obuf, with the status flags each goes out with:
	 * a keyboard reply can be several bytes. */
	uint8_t q[QLEN], qflags[QLEN];
	unsigned qhead, qlen;
	enum kbd_param kparam;
	uint8_t scanset;
	bool scanning; /* the keyboard sends keys (0xf4 enable, 0xf5 disable) */
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

static void load_next(struct i8042 *k)
{
	if (k->status & STS_OBF || !k->qlen)
		return;
	k->obuf = k->q[k->qhead];
	k->status = (uint8_t)((k->status & ~(STS_AUX | STS_TIMEOUT)) | STS_OBF | k->qflags[k->qhead]);
	k->qhead = (k->qhead + 1) % QLEN;
	k->qlen--;
}

/* Queues a byte for the guest; it reaches the output buffer once the
 * bytes before it have been read. A full queue drops the byte, as a
 * controller that is never read would. */
static void put_byte(struct i8042 *k, uint8_t v, uint8_t flags)
{
	if (k->qlen < QLEN) {
		unsigned i = (k->qhead + k->qlen++) % QLEN;
		k->q[i] = v;
		k->qflags[i] = flags;
	}
	load_next(k);
}

/* Scan code set numbers as the keyboard reports them through the
 * controller's translation (command byte bit 6) and without it. */
static uint8_t scanset_id(const struct i8042 *k)
{
	static const uint8_t xlat[4] = {0, 0x43, 0x41, 0x3f};
	return (k->ctr & 0x40) ? xlat[k->scanset & 3] : k->scanset;
}

/* A byte for the keyboard (port 0x60 with no controller command pending). */
static void keyboard(struct i8042 *k, uint8_t v)
{
	enum kbd_param p = k->kparam;
	k->kparam = KP_NONE;
	if (p == KP_SCANSET && v == 0) {
		put_byte(k, ACK, 0);
		put_byte(k, scanset_id(k), 0);
		return;
	}
	if (p == KP_SCANSET && v <= 3)
		k->scanset = v;
	if (p != KP_NONE) {
		put_byte(k, ACK, 0);
		return;
	}
	switch (v) {
	case 0xff: /* reset: ACK, then the self test passed */
		k->scanset = 2;
		k->scanning = true;
		put_byte(k, ACK, 0);
		put_byte(k, 0xaa, 0);
		break;
	case 0xf2: /* identify: an MF2 keyboard */
		put_byte(k, ACK, 0);
		put_byte(k, 0xab, 0);
		put_byte(k, (k->ctr & 0x40) ? 0x41 : 0x83, 0);
		break;
	case 0xee: /* echo */
		put_byte(k, 0xee, 0);
		break;
	case 0xed:
	case 0xf3:
	case 0xf0:
		k->kparam = v == 0xed ? KP_LEDS : v == 0xf3 ? KP_TYPEMATIC : KP_SCANSET;
		put_byte(k, ACK, 0);
		break;
	case 0xf4:
	case 0xf5:
		k->scanning = v == 0xf4;
		put_byte(k, ACK, 0);
		break;
	case 0xf6: /* defaults, resend...: nothing to change */
	case 0xf7:
	case 0xf8:
	case 0xf9:
	case 0xfa:
		put_byte(k, ACK, 0);
		break;
	default:
		put_byte(k, NACK, 0);
		break;
	}
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
		keyboard(k, v);
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
		/* The next queued byte comes with a fresh edge on its IRQ
		 * line: the ISA lines are edge-triggered at the IOAPIC. */
		set_line(k, I8042_IRQ_KB, &k->irq_kb, 0);
		set_line(k, I8042_IRQ_MS, &k->irq_ms, 0);
		load_next(k);
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
	k->scanset = 2;
	k->scanning = true;
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

/* Scan code set 1 (what the controller's translation delivers, and what
 * firmware's PS/2 drivers read) of an evdev key: codes 1-83 and 86-88 are
 * set 1's own numbers; the rest below are the E0-prefixed keys. */
int i8042_set1_code(uint16_t code, bool *e0)
{
	static const struct {
		uint16_t code;
		uint8_t sc;
	} ext[] = {
	    {96, 0x1c},	 /* KP Enter */
	    {97, 0x1d},	 /* Right Ctrl */
	    {98, 0x35},	 /* KP / */
	    {100, 0x38}, /* Right Alt */
	    {102, 0x47}, /* Home */
	    {103, 0x48}, /* Up */
	    {104, 0x49}, /* Page Up */
	    {105, 0x4b}, /* Left */
	    {106, 0x4d}, /* Right */
	    {107, 0x4f}, /* End */
	    {108, 0x50}, /* Down */
	    {109, 0x51}, /* Page Down */
	    {110, 0x52}, /* Insert */
	    {111, 0x53}, /* Delete */
	    {125, 0x5b}, /* Left Meta */
	    {126, 0x5c}, /* Right Meta */
	    {127, 0x5d}, /* Compose (menu) */
	};
	*e0 = false;
	if ((code >= 1 && code <= 83) || (code >= 86 && code <= 88))
		return code;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (ext[i].code == code) {
			*e0 = true;
			return ext[i].sc;
		}
	return -1;
}

bool i8042_reads_keys(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	bool r = ((k->ctr & 0x40) || k->scanset == 1) && k->scanning && !(k->ctr & CTR_KBDDIS);
	pthread_mutex_unlock(&k->lock);
	return r;
}

int i8042_key(struct i8042 *k, uint16_t code, bool pressed)
{
	bool e0;
	int sc = i8042_set1_code(code, &e0);
	int ret = 0;

	if (sc < 0)
		return -ENOENT;
	pthread_mutex_lock(&k->lock);
	/* Set 1 reaches the guest when the controller translates (command
	 * byte bit 6) or the keyboard itself is in set 1; a guest reading raw
	 * set 2 or 3 is not served (firmware and Linux translate). */
	if (!((k->ctr & 0x40) || k->scanset == 1) || !k->scanning || (k->ctr & CTR_KBDDIS)) {
		ret = -EAGAIN;
	} else if (k->qlen + 2 > QLEN) {
		ret = -ENOSPC;
	} else {
		if (e0)
			put_byte(k, 0xe0, 0);
		put_byte(k, (uint8_t)(sc | (pressed ? 0 : 0x80)), 0);
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}
