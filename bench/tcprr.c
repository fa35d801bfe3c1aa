/* tcprr: TCP request/response latency, for bench/net.sh (netperf's TCP_RR idea). Built
 * static so it runs in the busybox test guest as well as in L1.
 *
 *   tcprr -s PORT                      server: echoes every byte, one connection at a time
 *   tcprr -c ADDR -p PORT [-n N] [-b BYTES]
 *                                      client: N exchanges (default 2000) of BYTES (default 1)
 *                                      with TCP_NODELAY, after 50 uncounted ones; prints
 *   TCPRR n=N bytes=B mean_us=F p50_us=F p99_us=F min_us=F
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int full(int fd, char *buf, size_t n, int wr)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = wr ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int server(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	char buf[65536];

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0) {
		perror("tcprr: listen");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		ssize_t n;
		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (full(c, buf, (size_t)n, 1) < 0)
				break;
		close(c);
	}
}

static int client(const char *addr, int port, int n, int bytes)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	double *lat = calloc((size_t)n, sizeof(double)), sum = 0;
	char *buf = calloc(1, (size_t)bytes);

	if (!lat || !buf || inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "tcprr: bad address %s\n", addr);
		return 2;
	}
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("tcprr: connect");
		return 1;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int i = -50; i < n; i++) {
		double t = now_us();
		if (full(s, buf, (size_t)bytes, 1) < 0 || full(s, buf, (size_t)bytes, 0) < 0) {
			fprintf(stderr, "tcprr: connection lost after %d\n", i);
			return 1;
		}
		if (i >= 0) {
			lat[i] = now_us() - t;
			sum += lat[i];
		}
	}
	qsort(lat, (size_t)n, sizeof(double), cmp);
	printf("TCPRR n=%d bytes=%d mean_us=%.1f p50_us=%.1f p99_us=%.1f min_us=%.1f\n", n, bytes, sum / n,
	       lat[n / 2], lat[(int)(n * 0.99)], lat[0]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	int port = 5202, n = 2000, bytes = 1, srv = 0, o;

	while ((o = getopt(argc, argv, "s:c:p:n:b:")) != -1) {
		switch (o) {
		case 's':
			srv = 1;
			port = atoi(optarg);
			break;
		case 'c':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'b':
			bytes = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (srv)
		return server(port);
	if (!addr || n < 1 || bytes < 1 || bytes > 65536) {
		fprintf(stderr, "usage: tcprr -s PORT | -c ADDR [-p PORT] [-n N] [-b BYTES]\n");
		return 2;
	}
	return client(addr, port, n, bytes);
}
