/* LD_PRELOAD shim for the outer QEMU of the nested rig (run-l1.sh).
 *
 * Debian 12's QEMU 7.2 aborts in tcg_handle_interrupt() with
 * "assertion failed: (qemu_mutex_iothread_locked())" when its SVM emulation
 * raises a virtual interrupt from the vCPU thread without the global lock
 * (helper_write_crN: an L2 guest writes CR8 while L1's KVM has V_IRQ set).
 * EDK2 restores CR8 on every interrupt return, so OVMF in L2 trips it within
 * seconds on a busy host: a bug of the emulator that hosts our tests, not of
 * the code under test.
 *
 * g_assert() calls GLib's g_assertion_message_expr(), which this GLib does
 * not declare noreturn: when it returns, tcg_handle_interrupt() carries on
 * exactly as it would have with the lock held (it sets the request bit and,
 * on its own thread, asks the CPU loop to exit). Only that one assertion is
 * let through; every other one aborts as before. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

void g_assertion_message_expr(const char *domain, const char *file, int line, const char *func,
			      const char *expr);

void g_assertion_message_expr(const char *domain, const char *file, int line, const char *func,
			      const char *expr)
{
	static int told;
	if (func && expr && !strcmp(func, "tcg_handle_interrupt") &&
	    !strcmp(expr, "qemu_mutex_iothread_locked()")) {
		if (!told++)
			fprintf(stderr, "tcg-shim: let through QEMU's tcg_handle_interrupt lock assertion "
					"(known 7.2 SVM bug; see tests/nested/tcg-shim.c)\n");
		return;
	}
	void (*real)(const char *, const char *, int, const char *, const char *) =
	    (void (*)(const char *, const char *, int, const char *, const char *))dlsym(
		RTLD_NEXT, "g_assertion_message_expr");
	if (real)
		real(domain, file, line, func, expr);
	fprintf(stderr, "%s:%d: %s: assertion failed: (%s)\n", file ? file : "?", line, func ? func : "?",
		expr ? expr : "?");
	__builtin_trap();
}
