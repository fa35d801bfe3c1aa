/* vmmrun: runs a VMM and measures it from the outside, for bench/boot.sh and bench/exits.sh.
 *
 *   vmmrun [-o LOG] [-e ERRLOG] [-g GUEST_MIB] [-m NAME=TEXT]... [-s NAME]... [-k NAME]
 *          [-t SEC] -- CMD [ARG...]
 *
 * CMD runs with stdin from /dev/null and stdout+stderr into a pipe that vmmrun reads line by
 * line (copied to LOG when given, as it comes); -e sends stderr to ERRLOG instead, so the first byte on
 * the pipe is the guest's (first_ms: the console's first output, e.g. firmware's). For each -m marker, the first line containing TEXT gets a
 * timestamp, in ms since just before fork(). When a -s marker is seen, vmmrun samples
 * /proc/PID: VmRSS, VmHWM, and the RSS of the guest-RAM mapping (the mapping whose size is
 * GUEST_MIB MiB; failing that, the largest mapping at least that big). The last sample that
 * found the mapping is reported. -k kills CMD (SIGKILL) when marker NAME is seen (a guest that
 * never powers off, e.g. firmware at its shell). -t kills CMD (SIGKILL) after SEC seconds.
 *
 * Prints one line on stdout:
 *   VMMRUN rc=N exit_ms=F user_us=N sys_us=N maxrss_kb=N guest_rss_kb=N vmrss_kb=N hwm_kb=N
 *          sampled=NAME first_ms=F mark_NAME=F ...
 * rc is the exit status (128+signal when killed); a marker never seen is -1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXM 16

static struct timespec t0;
static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6;
}

static struct { char *name, *text; double at; int sample, kill; } marks[MAXM];
static int nmarks;
static long guest_kb = -1, vmrss_kb = -1, hwm_kb = -1, guest_mib;
static const char *sampled = "none";

static long status_field(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* RSS (kB) of the guest-RAM mapping: exact size match first, else the largest >= size. */
static long guest_rss(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long want = guest_mib * 1024, exact = -1, big = -1, bigsize = 0, cursize = 0;
	int in_map = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		long v;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			cursize = (long)((b - a) / 1024);
			in_map = 1;
		} else if (in_map && sscanf(line, "Rss: %ld", &v) == 1) {
			if (cursize == want && v > exact)
				exact = v;
			if (cursize >= want && cursize > bigsize)
				bigsize = cursize, big = v;
			in_map = 0;
		}
	}
	fclose(f);
	return exact >= 0 ? exact : big;
}

static void sample(pid_t pid, const char *name)
{
	long g = guest_mib ? guest_rss(pid) : -1;
	long r = status_field(pid, "VmRSS"), h = status_field(pid, "VmHWM");
	if (g < 0 && guest_mib)
		return;
	guest_kb = g, vmrss_kb = r, hwm_kb = h, sampled = name;
}

static void usage(void)
{
	fprintf(stderr, "usage: vmmrun [-o LOG] [-e ERRLOG] [-g GUEST_MIB] [-m NAME=TEXT]... [-s NAME]... [-k NAME] "
			"[-t SEC] -- CMD...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *logpath = NULL, *errpath = NULL;
	double first = -1;
	double timeout_s = 0;
	int c;
	while ((c = getopt(argc, argv, "+o:e:g:m:s:k:t:")) != -1) {
		switch (c) {
		case 'o': logpath = optarg; break;
		case 'e': errpath = optarg; break;
		case 'g': guest_mib = atol(optarg); break;
		case 't': timeout_s = atof(optarg); break;
		case 'm': {
			char *eq = strchr(optarg, '=');
			if (!eq || nmarks == MAXM)
				usage();
			*eq = 0;
			marks[nmarks].name = optarg, marks[nmarks].text = eq + 1, marks[nmarks].at = -1;
			nmarks++;
			break;
		}
		case 's':
			for (int i = 0; i < nmarks; i++)
				if (!strcmp(marks[i].name, optarg))
					marks[i].sample = 1;
			break;
		case 'k':
			for (int i = 0; i < nmarks; i++)
				if (!strcmp(marks[i].name, optarg))
					marks[i].kill = 1;
			break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	FILE *log = logpath ? fopen(logpath, "w") : NULL;
	/* Line-buffered: an L1 script may follow LOG while the guest runs (bench/vsock.sh, fs.sh). */
	if (log)
		setvbuf(log, NULL, _IOLBF, 0);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return perror("pipe"), 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(p[1], 1);
		int err = errpath ? open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
		dup2(err >= 0 ? err : p[1], 2);
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	close(p[1]);

	char buf[65536];
	size_t len = 0;
	int eof = 0;
	while (!eof) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		int to = 1000;
		if (timeout_s > 0) {
			double left = timeout_s * 1e3 - now_ms();
			if (left <= 0) {
				kill(pid, SIGKILL);
				timeout_s = 0;
			} else if (left < to)
				to = (int)left + 1;
		}
		if (poll(&pf, 1, to) <= 0)
			continue;
		ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			eof = 1;
			n = 0;
		}
		double t = now_ms();
		if (n > 0 && first < 0)
			first = t;
		if (log && n > 0) {
			fwrite(buf + len, 1, (size_t)n, log);
			fflush(log); /* bench/gpu.sh watches LOG while CMD runs */
		}
		len += (size_t)n;
		buf[len] = 0;
		/* Look at complete lines (and, at EOF or when full, at what is left). */
		char *start = buf, *nl;
		for (;;) {
			nl = strchr(start, '\n');
			if (!nl && !eof && len < sizeof(buf) - 1)
				break;
			if (nl)
				*nl = 0;
			for (int i = 0; i < nmarks; i++)
				if (marks[i].at < 0 && strstr(start, marks[i].text)) {
					marks[i].at = t;
					if (marks[i].sample)
						sample(pid, marks[i].name);
					if (marks[i].kill)
						kill(pid, SIGKILL);
				}
			if (!nl) {
				start = buf + len;
				break;
			}
			start = nl + 1;
		}
		len = (size_t)(buf + len - start);
		memmove(buf, start, len);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
		;
	double te = now_ms();
	if (log)
		fclose(log);
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	printf("VMMRUN rc=%d exit_ms=%.1f user_us=%ld sys_us=%ld maxrss_kb=%ld guest_rss_kb=%ld vmrss_kb=%ld hwm_kb=%ld sampled=%s",
	       rc, te, (long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
	       (long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss, guest_kb, vmrss_kb, hwm_kb,
	       sampled);
	printf(" first_ms=%.1f", first);
	for (int i = 0; i < nmarks; i++)
		printf(" mark_%s=%.1f", marks[i].name, marks[i].at);
	printf("\n");
	return 0;
}
