/* vsockperf: stream throughput and round-trip latency over AF_VSOCK or AF_UNIX, for
 * bench/vsock.sh. Built static so it runs in the busybox test guest as well as in L1.
 *
 *   vsockperf -s ADDR                 server, one connection at a time; ADDR is
 *                                     vsock:PORT (any CID) or unix:PATH
 *   vsockperf -c ADDR -m g2h|h2g|rr [-b BYTES] [-n N] [-l CHUNK]
 *                                     client; ADDR is vsock:CID:PORT or unix:PATH
 *
 * Each connection starts with a 16-byte request from the client: the job ('S' sink, 'G'
 * source, 'E' echo) and a byte count.
 *   g2h  the client sends BYTES (default 256 MiB) in CHUNK writes (default 64 KiB) and shuts
 *        down its side; the server reads to EOF and answers with the count it got, which the
 *        client waits for: the time covers every byte arriving at the server.
 *   h2g  the server sends BYTES in CHUNK writes; the client reads them all.
 *   rr   N (default 2000) exchanges of 1 byte, after 50 uncounted ones.
 * Prints one line:
 *   VSP job=g2h|h2g bytes=N secs=F MBPS=F          (MBPS: megabits per second, 10^6)
 *   VSP job=rr n=N mean_us=F p50_us=F p99_us=F min_us=F
 */
#define _GNU_SOURCE
#include <linux/vm_sockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct req {
	uint32_t job;
	uint32_t chunk;
	uint64_t bytes;
};

static char buf[1 << 20];

static int full(int fd, char *b, size_t n, int wr)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = wr ? write(fd, b + done, n - done) : read(fd, b + done, n - done);
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ADDR -> a socket, bound and listening (srv) or connected. */
static int sock_for(const char *addr, int srv)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_vm vm;
	} a;
	socklen_t len;
	int s;

	memset(&a, 0, sizeof(a));
	if (!strncmp(addr, "unix:", 5)) {
		a.un.sun_family = AF_UNIX;
		if (strlen(addr + 5) >= sizeof(a.un.sun_path))
			return -1;
		strcpy(a.un.sun_path, addr + 5);
		len = sizeof(a.un);
		if (srv)
			unlink(a.un.sun_path);
	} else if (!strncmp(addr, "vsock:", 6)) {
		a.vm.svm_family = AF_VSOCK;
		if (srv) {
			a.vm.svm_cid = VMADDR_CID_ANY;
			a.vm.svm_port = (unsigned)atoi(addr + 6);
		} else {
			const char *c = strchr(addr + 6, ':');
			if (!c)
				return -1;
			a.vm.svm_cid = (unsigned)atoi(addr + 6);
			a.vm.svm_port = (unsigned)atoi(c + 1);
		}
		len = sizeof(a.vm);
	} else
		return -1;
	s = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (srv ? bind(s, &a.sa, len) < 0 || listen(s, 8) < 0 : connect(s, &a.sa, len) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static void serve(int c)
{
	struct req q;
	uint64_t got = 0;
	ssize_t n;

	if (full(c, (char *)&q, sizeof(q), 0) < 0)
		return;
	if (q.chunk == 0 || q.chunk > sizeof(buf))
		q.chunk = 65536;
	switch (q.job) {
	case 'S':
		while ((n = read(c, buf, sizeof(buf))) > 0)
			got += (uint64_t)n;
		full(c, (char *)&got, sizeof(got), 1);
		break;
	case 'G':
		while (got < q.bytes) {
			size_t k = q.bytes - got < q.chunk ? (size_t)(q.bytes - got) : q.chunk;
			if (full(c, buf, k, 1) < 0)
				break;
			got += k;
		}
		break;
	case 'E':
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (full(c, buf, (size_t)n, 1) < 0)
				break;
		break;
	}
}

static int server(const char *addr)
{
	int s = sock_for(addr, 1);
	if (s < 0) {
		perror("vsockperf: listen");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		serve(c);
		close(c);
	}
}

static int client(const char *addr, const char *mode, uint64_t bytes, int n, unsigned chunk)
{
	struct req q = {.chunk = chunk, .bytes = bytes};
	int s = sock_for(addr, 0);
	double t0, t;

	if (s < 0) {
		perror("vsockperf: connect");
		return 1;
	}
	q.job = !strcmp(mode, "g2h") ? 'S' : !strcmp(mode, "h2g") ? 'G' : 'E';
	t0 = now_us();
	if (full(s, (char *)&q, sizeof(q), 1) < 0)
		return perror("vsockperf: request"), 1;
	if (q.job == 'S') {
		uint64_t sent = 0, got = 0;
		while (sent < bytes) {
			size_t k = bytes - sent < chunk ? (size_t)(bytes - sent) : chunk;
			if (full(s, buf, k, 1) < 0)
				return perror("vsockperf: write"), 1;
			sent += k;
		}
		shutdown(s, SHUT_WR);
		if (full(s, (char *)&got, sizeof(got), 0) < 0 || got != bytes) {
			fprintf(stderr, "vsockperf: server got %llu of %llu\n", (unsigned long long)got,
				(unsigned long long)bytes);
			return 1;
		}
	} else if (q.job == 'G') {
		uint64_t got = 0;
		ssize_t r;
		while (got < bytes && (r = read(s, buf, sizeof(buf))) > 0)
			got += (uint64_t)r;
		if (got != bytes) {
			fprintf(stderr, "vsockperf: got %llu of %llu\n", (unsigned long long)got,
				(unsigned long long)bytes);
			return 1;
		}
	} else {
		double *lat = calloc((size_t)n, sizeof(double)), sum = 0;
		char c = 'x';
		if (!lat)
			return 1;
		for (int i = -50; i < n; i++) {
			t = now_us();
			if (full(s, &c, 1, 1) < 0 || full(s, &c, 1, 0) < 0) {
				fprintf(stderr, "vsockperf: connection lost after %d\n", i);
				return 1;
			}
			if (i >= 0) {
				lat[i] = now_us() - t;
				sum += lat[i];
			}
		}
		qsort(lat, (size_t)n, sizeof(double), cmp);
		printf("VSP job=rr n=%d mean_us=%.1f p50_us=%.1f p99_us=%.1f min_us=%.1f\n", n, sum / n,
		       lat[n / 2], lat[(int)(n * 0.99)], lat[0]);
		close(s);
		return 0;
	}
	t = (now_us() - t0) / 1e6;
	printf("VSP job=%s bytes=%llu secs=%.3f MBPS=%.1f\n", mode, (unsigned long long)bytes, t,
	       bytes * 8 / t / 1e6);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *mode = "rr";
	uint64_t bytes = 256ull << 20;
	unsigned chunk = 65536;
	int n = 2000, srv = 0, o;

	while ((o = getopt(argc, argv, "s:c:m:b:n:l:")) != -1) {
		switch (o) {
		case 's':
			srv = 1;
			addr = optarg;
			break;
		case 'c':
			addr = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'b':
			bytes = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'l':
			chunk = (unsigned)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!addr || n < 1 || chunk < 1 || chunk > sizeof(buf) ||
	    (strcmp(mode, "g2h") && strcmp(mode, "h2g") && strcmp(mode, "rr"))) {
		fprintf(stderr,
			"usage: vsockperf -s ADDR | -c ADDR -m g2h|h2g|rr [-b BYTES] [-n N] [-l CHUNK]\n");
		return 2;
	}
	return srv ? server(addr) : client(addr, mode, bytes, n, chunk);
}
