/* Freestanding helpers of the direct-tier test guest: port I/O, MMIO,
 * strings, printf to COM1, the TAP output protocol, the command line. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}
__attribute__((noreturn)) void halt_forever(void);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* COM1, polled. */
void serial_init(void);
void serial_putc(char c);
int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
int snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* TAP: one line per check. While deferred (the UART is in loopback or has
 * DLAB set), lines are kept and printed by tap_flush(). */
void tap_ok(const char *name);
void tap_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_check(bool cond, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tap_defer(bool on);
void tap_flush(void);
__attribute__((noreturn)) void tap_done_and_poweroff(void);

/* Command line: "vmkit.t=TEST key=value ...". */
void cmdline_set(const char *s);
const char *cmdline_get(void);
/* Copies the value of key into buf; false when absent. */
bool arg_str(const char *key, char *buf, size_t cap);
bool arg_u64(const char *key, uint64_t *v);   /* decimal, or hex with 0x */
bool arg_hex(const char *key, uint64_t *v);   /* hex, with or without 0x */
uint64_t arg_u64_or(const char *key, uint64_t dflt);

/* Entry state saved by entry.S before anything else ran. */
struct entry_state {
	uint64_t rsi, cr0, cr4, efer, rflags, cs, gdt_base, gdt_limit;
};
extern struct entry_state entry_state;
extern char _kernel_start[], _kernel_end[];

#endif
