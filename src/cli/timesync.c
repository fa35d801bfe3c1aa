/* --timesync vsockPort=N, as vfkit does it: the guest's QEMU guest agent
 * listens on vsock port N, and after the host wakes from sleep the guest is
 * sent {"execute": "guest-set-time", "arguments":{"time": NS}} with the
 * host's wall-clock time. vmkit also does it after every resume from pause
 * (the guest's clock stood still while it was paused).
 *
 * Host sleep on Linux: CLOCK_BOOTTIME counts time suspended, CLOCK_MONOTONIC
 * does not, so their difference grows by the time the host slept. A check
 * every 2 s sees any suspend longer than a second. This needs neither D-Bus
 * nor logind (PrepareForSleep would also be missing in containers and
 * minimal hosts), and it costs one wake-up per 2 s.
 *
 * Everything runs on a thread of its own through the public run-time API
 * (vmk_vm_socket_connect), so neither the CLI's main loop nor the VM's event
 * thread ever waits for the guest. Each sync is a new connection, closed
 * after the agent's answer: a guest that rebooted in between still gets
 * the next one (vfkit keeps one open and loses it then). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define CHECK_MS      2000
#define SLEEP_SEEN_NS 1000000000LL
#define REPLY_MS      5000

struct timesync {
	vmk_vm *vm;
	uint32_t port;
	int wake[2]; /* kicks and quit -> the thread */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool quit;
	/* The connect's completion, from the VM's event thread. */
	bool done;
	int fd;
	char why[256];
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void connected(vmk_vm *vm, int fd, const vmk_error *err, void *ctx)
{
	struct timesync *t = ctx;

	(void)vm;
	pthread_mutex_lock(&t->lock);
	t->fd = fd;
	snprintf(t->why, sizeof(t->why), "%s", err ? vmk_error_get_message(err) : "");
	t->done = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* The agent answers one line; {"return": {}} is success. */
static bool exchange(int fd, char *why, size_t whylen)
{
	char cmd[128], reply[256];
	size_t got = 0;
	int n = snprintf(cmd, sizeof(cmd),
			 "{\"execute\": \"guest-set-time\", \"arguments\":{\"time\": %" PRId64 "}}\n",
			 clock_ns(CLOCK_REALTIME));

	if (write(fd, cmd, (size_t)n) != n) {
		snprintf(why, whylen, "cannot send the command: %s", strerror(errno));
		return false;
	}
	while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		if (poll(&p, 1, REPLY_MS) != 1) {
			snprintf(why, whylen, "the guest agent did not answer within %d ms", REPLY_MS);
			return false;
		}
		r = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (r <= 0) {
			snprintf(why, whylen, "the guest agent closed the connection");
			return false;
		}
		got += (size_t)r;
	}
	reply[got] = 0;
	if (strncmp(reply, "{\"return\": {}}", 14) != 0) {
		reply[strcspn(reply, "\n")] = 0;
		snprintf(why, whylen, "the guest agent answered %.200s", reply);
		return false;
	}
	return true;
}

static void sync_guest(struct timesync *t, const char *because)
{
	vmk_error *err = NULL;
	char why[256] = "";

	pthread_mutex_lock(&t->lock);
	t->done = false;
	t->fd = -1;
	pthread_mutex_unlock(&t->lock);
	if (!vmk_vm_socket_connect(t->vm, t->port, connected, t, &err)) {
		/* Not running (stopping, paused again): nothing to set now. */
		vmk_error_free(err);
		return;
	}
	/* The API calls back exactly once, at the latest when the VM stops. */
	pthread_mutex_lock(&t->lock);
	while (!t->done)
		pthread_cond_wait(&t->cond, &t->lock);
	int fd = t->fd;
	snprintf(why, sizeof(why), "%s", t->why);
	pthread_mutex_unlock(&t->lock);
	if (fd >= 0) {
		if (exchange(fd, why, sizeof(why)))
			why[0] = 0;
		close(fd);
	}
	if (why[0])
		fprintf(stderr, "vmkit: --timesync (after %s): %s\n", because, why);
}

static void *timesync_main(void *arg)
{
	struct timesync *t = arg;
	int64_t slept = clock_ns(CLOCK_BOOTTIME) - clock_ns(CLOCK_MONOTONIC);

	for (;;) {
		struct pollfd p = {.fd = t->wake[0], .events = POLLIN};
		bool kicked = poll(&p, 1, CHECK_MS) == 1;
		char drain[64];

		if (kicked)
			(void)!read(t->wake[0], drain, sizeof(drain));
		pthread_mutex_lock(&t->lock);
		bool quit = t->quit;
		pthread_mutex_unlock(&t->lock);
		if (quit)
			return NULL;
		int64_t now = clock_ns(CLOCK_BOOTTIME) - clock_ns(CLOCK_MONOTONIC);
		bool woke = now - slept > SLEEP_SEEN_NS;
		slept = now;
		if (woke)
			sync_guest(t, "host sleep");
		else if (kicked)
			sync_guest(t, "resume");
	}
}

struct timesync *timesync_start(vmk_vm *vm, uint32_t port)
{
	struct timesync *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct timesync){.vm = vm, .port = port, .fd = -1};
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(t);
		return NULL;
	}
	if (pthread_create(&t->thread, NULL, timesync_main, t) != 0) {
		close(t->wake[0]);
		close(t->wake[1]);
		free(t);
		return NULL;
	}
	return t;
}

void timesync_kick(struct timesync *t)
{
	if (t)
		(void)!write(t->wake[1], "", 1); /* a full pipe already holds a kick */
}

/* After the VM stopped: no connect can be waiting any more. */
void timesync_stop(struct timesync *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_mutex_unlock(&t->lock);
	timesync_kick(t);
	pthread_join(t->thread, NULL);
	close(t->wake[0]);
	close(t->wake[1]);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}
