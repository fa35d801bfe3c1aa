/* Strings, printf, TAP lines and the command line of the test guest. */
#include "lib.h"
#include "acpi.h"

void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (uint8_t)*a - (uint8_t)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* --- printf --- */
struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = { buf, cap, 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0, prec = -1;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.')
			for (fmt++, prec = 0; *fmt >= '0' && *fmt <= '9';)
				prec = prec * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z')
			lng++, fmt++;
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			put_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false, width, pad);
			break;
		case 'x':
			put_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false, width, pad);
			break;
		case 'p':
			put(&o, '0'), put(&o, 'x');
			put_num(&o, (uint64_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			while (*s && prec-- != 0)
				put(&o, *s++);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '%'), put(&o, *fmt);
			if (!*fmt)
				fmt--;
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

static bool deferred;
static char defer_buf[4096];
static size_t defer_len;

static void emit(const char *s)
{
	if (deferred) {
		while (*s && defer_len + 1 < sizeof(defer_buf))
			defer_buf[defer_len++] = *s++;
		return;
	}
	while (*s)
		serial_putc(*s++);
}

void printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(buf);
}

/* --- TAP --- */
static unsigned passed, failed;

void tap_defer(bool on)
{
	deferred = on;
}

void tap_flush(void)
{
	defer_buf[defer_len] = 0;
	defer_len = 0;
	for (const char *s = defer_buf; *s; s++)
		serial_putc(*s);
}

void tap_ok(const char *name)
{
	passed++;
	printf("TAP ok %s\n", name);
}

static void vfail(const char *name, const char *fmt, va_list ap)
{
	char buf[400];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	failed++;
	printf("TAP not ok %s: %s\n", name, buf);
}

void tap_fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(name, fmt, ap);
	va_end(ap);
}

void tap_check(bool cond, const char *name, const char *fmt, ...)
{
	if (cond) {
		tap_ok(name);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vfail(name, fmt, ap);
	va_end(ap);
}

void tap_done_and_poweroff(void)
{
	if (deferred) {
		deferred = false;
		tap_flush();
	}
	/* Resolve the S5 sleep type first: a failure there is a check too. */
	struct acpi_power pw;
	acpi_power_info(&pw);
	printf("TAP done %u %u\n", passed, failed);
	acpi_poweroff(&pw);
	printf("TAP not ok poweroff: still running after writing 0x%x to PM1a_CNT 0x%x\n",
	       (unsigned)(pw.slp_typ << 10 | 1 << 13), pw.pm1a_cnt);
	halt_forever();
}

/* --- command line --- */
static char cmdline[4096];

void cmdline_set(const char *s)
{
	size_t n = 0;
	if (s)
		for (; s[n] && n + 1 < sizeof(cmdline); n++)
			cmdline[n] = s[n];
	cmdline[n] = 0;
}

const char *cmdline_get(void)
{
	return cmdline;
}

bool arg_str(const char *key, char *buf, size_t cap)
{
	size_t kl = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - tok) > kl && !strncmp(tok, key, kl) && tok[kl] == '=') {
			size_t n = 0;
			for (const char *v = tok + kl + 1; v < p && n + 1 < cap; v++)
				buf[n++] = *v;
			if (cap)
				buf[n] = 0;
			return true;
		}
	}
	return false;
}

static bool parse_num(const char *s, unsigned base, uint64_t *v)
{
	uint64_t r = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2, base = 16;
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		r = r * base + d;
	}
	*v = r;
	return true;
}

bool arg_u64(const char *key, uint64_t *v)
{
	char buf[32];
	return arg_str(key, buf, sizeof(buf)) && parse_num(buf, 10, v);
}

bool arg_hex(const char *key, uint64_t *v)
{
	char buf[32];
	return arg_str(key, buf, sizeof(buf)) && parse_num(buf, 16, v);
}

uint64_t arg_u64_or(const char *key, uint64_t dflt)
{
	uint64_t v;
	return arg_u64(key, &v) ? v : dflt;
}
