/* vncbench: a VNC client (libvncclient) for bench/gpu.sh that takes frame buffer updates as
 * fast as a server sends them and measures the server's process from outside.
 *
 *   vncbench HOST PORT SEC [PID] [ENCODINGS]
 *
 * Connects (RFB, 32-bit true colour), waits for the first update (the full picture), then for
 * SEC seconds keeps one incremental FramebufferUpdateRequest outstanding: libvncclient sends
 * the next as soon as an update has been handled. ENCODINGS is libvncclient's preference list
 * (default "raw"; e.g. "tight,raw": commas for spaces). With PID, /proc/PID and its threads are read
 * at both ends of the window (clock ticks): cpu = utime+stime of the process, guest = its
 * guest_time (the vCPUs running the guest), vmm = cpu - guest (what the VMM itself spent,
 * in user space and in the kernel), io = utime+stime of the threads that never ran the guest.
 *
 * Prints one line:
 *   VNCBENCH enc=E secs=S updates=N rects=N mpixels=F fps=F cpu_ms=N guest_ms=N vmm_ms=N
 *            io_ms=N vmm_ms_per_frame=F threads=NAME:MS,...
 * threads: the VMM's own ms per thread name over the window (vmkit names its threads vmk-*;
 * QEMU does with -name ...,debug-threads=on).
 */
#include <dirent.h>
#include <rfb/rfbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long updates, rects;
static unsigned long long pixels;

static void got_rect(rfbClient *c, int x, int y, int w, int h)
{
	(void)c, (void)x, (void)y;
	rects++;
	pixels += (unsigned long long)w * h;
}

static void finished(rfbClient *c)
{
	(void)c;
	updates++;
}

static void quiet(const char *fmt, ...)
{
	(void)fmt;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* utime, stime, guest_time (ticks) of one /proc/.../stat; its comm into COMM (spaces as _). */
static int read_stat(const char *path, unsigned long long v[3], char comm[32])
{
	char buf[1024];
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* after comm, which may hold spaces */
	char *q = strchr(buf, '(');
	if (!p || !q || q > p)
		return -1;
	if (comm) {
		size_t k = 0;
		for (q++; q < p && k < 31; q++)
			comm[k++] = *q == ' ' || *q == ',' || *q == ':' ? '_' : *q;
		comm[k] = 0;
	}
	/* Fields after comm start at 3 (state): utime 14, stime 15, guest_time 43. */
	unsigned long long x;
	int field = 3;
	v[0] = v[1] = v[2] = 0;
	for (char *t = strtok(p + 2, " "); t; t = strtok(NULL, " "), field++) {
		x = strtoull(t, NULL, 10);
		if (field == 14)
			v[0] = x;
		else if (field == 15)
			v[1] = x;
		else if (field == 43) {
			v[2] = x;
			break;
		}
	}
	return 0;
}

#define MAXT 64
struct cpu {
	unsigned long long cpu, guest, io;
	int nt;
	struct {
		int tid;
		char comm[32];
		unsigned long long cpu, guest;
	} t[MAXT];
};

static void sample(int pid, struct cpu *s)
{
	char path[320];
	unsigned long long v[3];

	*s = (struct cpu){0};
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_stat(path, v, NULL) == 0) {
		s->cpu = v[0] + v[1];
		s->guest = v[2];
	}
	/* Threads that never ran the guest (their guest_time is 0): the VMM's own threads.
	 * A thread that ended during the window is missed here, but is in the process total. */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, e->d_name);
		char comm[32];
		if (read_stat(path, v, comm) != 0)
			continue;
		if (v[2] == 0)
			s->io += v[0] + v[1];
		if (s->nt < MAXT) {
			s->t[s->nt].tid = atoi(e->d_name);
			memcpy(s->t[s->nt].comm, comm, sizeof(comm));
			s->t[s->nt].cpu = v[0] + v[1];
			s->t[s->nt].guest = v[2];
			s->nt++;
		}
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: vncbench HOST PORT SEC [PID] [ENCODINGS]\n");
		return 2;
	}
	double secs = atof(argv[3]);
	int pid = argc > 4 ? atoi(argv[4]) : 0;
	const char *enc = argc > 5 ? argv[5] : "raw";
	char *encs = strdup(enc); /* commas stand for spaces: one shell word */
	for (char *p = encs; *p; p++)
		if (*p == ',')
			*p = ' ';
	double tick_ms = 1000.0 / sysconf(_SC_CLK_TCK);

	rfbClientLog = quiet;
	if (!getenv("VNCBENCH_DEBUG"))
		rfbClientErr = quiet;
	rfbClient *c = rfbGetClient(8, 3, 4);
	c->serverHost = strdup(argv[1]);
	c->serverPort = atoi(argv[2]);
	c->appData.encodingsString = encs;
	c->appData.compressLevel = 1;
	c->appData.qualityLevel = 9;
	c->GotFrameBufferUpdate = got_rect;
	c->FinishedFrameBufferUpdate = finished;
	if (!rfbInitClient(c, NULL, NULL)) { /* frees c */
		printf("VNCBENCH enc=%s error=connect\n", enc);
		return 1;
	}
	/* The first (full, non-incremental) update. */
	for (double end = now_s() + 60; !updates && now_s() < end;) {
		int r = WaitForMessage(c, 100000);
		if (r < 0 || (r > 0 && !HandleRFBServerMessage(c))) {
			printf("VNCBENCH enc=%s error=lost-before-first-update\n", enc);
			return 1;
		}
	}
	struct cpu a, b;
	updates = rects = 0;
	pixels = 0;
	sample(pid, &a);
	double t0 = now_s(), t;
	while ((t = now_s()) - t0 < secs) {
		int r = WaitForMessage(c, 100000);
		if (r < 0 || (r > 0 && !HandleRFBServerMessage(c))) {
			printf("VNCBENCH enc=%s error=lost\n", enc);
			return 1;
		}
	}
	sample(pid, &b);
	double dt = t - t0;
	double cpu = (b.cpu - a.cpu) * tick_ms, guest = (b.guest - a.guest) * tick_ms;
	double vmm = cpu - guest, io = (b.io - a.io) * tick_ms;
	/* Per thread name: the VMM's own ms (utime+stime-guest_time) over the window. */
	char thr[4096] = "";
	struct {
		char comm[32];
		double ms;
	} g[MAXT];
	int ng = 0;
	for (int i = 0; i < b.nt; i++) {
		unsigned long long c0 = 0, g0 = 0;
		for (int j = 0; j < a.nt; j++)
			if (a.t[j].tid == b.t[i].tid)
				c0 = a.t[j].cpu, g0 = a.t[j].guest;
		double ms = ((b.t[i].cpu - c0) - (b.t[i].guest - g0)) * tick_ms;
		int k;
		for (k = 0; k < ng && strcmp(g[k].comm, b.t[i].comm); k++)
			;
		if (k == ng) {
			memcpy(g[ng].comm, b.t[i].comm, 32);
			g[ng++].ms = 0;
		}
		g[k].ms += ms;
	}
	for (int k = 0; k < ng; k++)
		if (g[k].ms > 0) {
			size_t l = strlen(thr);
			snprintf(thr + l, sizeof(thr) - l, "%s%s:%.0f", l ? "," : "", g[k].comm, g[k].ms);
		}
	printf("VNCBENCH enc=%s secs=%.2f updates=%lu rects=%lu mpixels=%.1f fps=%.2f cpu_ms=%.0f "
	       "guest_ms=%.0f vmm_ms=%.0f io_ms=%.0f vmm_ms_per_frame=%.1f threads=%s\n",
	       enc, dt, updates, rects, pixels / 1e6, updates / dt, cpu, guest, vmm, io,
	       updates ? vmm / updates : -1.0, thr[0] ? thr : "-");
	fflush(stdout);
	rfbClientCleanup(c);
	return 0;
}
