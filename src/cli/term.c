/* The user's terminal when a serial port uses stdio: raw mode (so keys
 * like Ctrl-C reach the guest) restored on every way out, and the Ctrl-A
 * escapes that replace the keys raw mode takes away. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"

#define CTRL_A 0x01

static struct termios saved;
static int saved_fd = -1;

void term_restore(void)
{
	/* tcsetattr is async-signal-safe, so this also runs in fatal signal handlers. */
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSAFLUSH, &saved);
}

static void fatal_signal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

bool term_make_raw(int fd)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
	struct termios raw;

	if (tcgetattr(fd, &saved) != 0)
		return false;
	raw = saved;
	cfmakeraw(&raw);
	/* Keep output processing so our own messages ("\n") still start at column 0. */
	raw.c_oflag |= OPOST;
	if (tcsetattr(fd, TCSAFLUSH, &raw) != 0)
		return false;
	saved_fd = fd;
	atexit(term_restore);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal);
	return true;
}

size_t term_escape_filter(struct term_escape *st, const uint8_t *in, size_t n, uint8_t *out, size_t *consumed,
			  enum term_action *action)
{
	size_t len = 0, i;

	*action = TERM_NONE;
	for (i = 0; i < n && *action == TERM_NONE; i++) {
		uint8_t c = in[i];

		if (!st->pending) {
			if (c == CTRL_A)
				st->pending = true;
			else
				out[len++] = c;
			continue;
		}
		st->pending = false;
		if (c == 'x' || c == 'X') {
			*action = TERM_QUIT;
		} else if (c == 'h' || c == 'H' || c == '?') {
			*action = TERM_HELP;
		} else if (c == CTRL_A) {
			out[len++] = CTRL_A;
		} else {
			out[len++] = CTRL_A;
			out[len++] = c;
		}
	}
	*consumed = i;
	return len;
}
