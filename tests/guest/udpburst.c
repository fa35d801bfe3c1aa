/* udpburst: counts UDP datagrams end to end, for the socketpair LAN's
 * backpressure test (tools/guest/tests/net-pair.sh, tests/api/net_pair.c).
 * Built static so it runs in the busybox test guest; nested-net.sh appends
 * it to the guest's initramfs as /bin/udpburst.
 *
 *   udpburst recv PORT N IDLE_S
 *       Binds PORT with a receive buffer far larger than N datagrams need
 *       (SO_RCVBUFFORCE), prints UDPBURST-READY, reads until it has all N
 *       sequence numbers or IDLE_S seconds pass without a datagram once
 *       the first came, and prints
 *       UDPBURST-GOT=<distinct> missing=<n> dup=<n> reordered=<n> sockdrops=<n>
 *       sockdrops is the socket's own overflow counter (SO_RXQ_OVFL): a
 *       loss there would be this guest's, not the network's.
 *   udpburst send ADDR PORT N SIZE
 *       Sends N datagrams of SIZE bytes, the sequence number first. A send
 *       blocked a whole second on the socket's send buffer (the NIC is not
 *       taking frames) prints UDPBURST-WAITING sent=<k> once and keeps
 *       waiting; ENOBUFS (a full queue discipline, reported thanks to
 *       IP_RECVERR) is retried, so this guest never drops one itself.
 *       Prints UDPBURST-SENT=<N> waits=<n> enobufs=<n> seconds=<s>.
 * Exit 0 when every datagram was sent / received. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_recv(int port, unsigned n, int idle_s)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), one = 1, big = 64 << 20;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	unsigned char *seen = calloc(n, 1);
	unsigned got = 0, dup = 0, reordered = 0, next = 0;
	uint32_t drops = 0;
	char buf[65536], cbuf[CMSG_SPACE(sizeof(uint32_t))];

	if (s < 0 || !seen || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udpburst recv");
		return 1;
	}
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(s, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	socklen_t len = sizeof(big);
	getsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, &len);
	printf("UDPBURST-READY port=%d rcvbuf=%d\n", port, big);
	fflush(stdout);
	while (got < n) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		/* Before the first datagram the sender may wait for a long time. */
		if (poll(&p, 1, (got ? idle_s : 600) * 1000) <= 0)
			break;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr m = {
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		ssize_t r = recvmsg(s, &m, 0);
		if (r < 4)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
				memcpy(&drops, CMSG_DATA(c), sizeof(drops));
		uint32_t seq;
		memcpy(&seq, buf, 4);
		seq = ntohl(seq);
		if (seq >= n)
			continue;
		if (seen[seq]) {
			dup++;
			continue;
		}
		if (seq != next)
			reordered++;
		next = seq + 1;
		seen[seq] = 1;
		got++;
	}
	printf("UDPBURST-GOT=%u missing=%u dup=%u reordered=%u sockdrops=%u\n", got, n - got, dup, reordered,
	       drops);
	return got == n ? 0 : 1;
}

static int do_send(const char *addr, int port, unsigned n, size_t size)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {1, 0};
	unsigned waits = 0, enobufs = 0;
	char buf[65536] = {0};
	double t0 = now();

	if (size < 4 || size > sizeof(buf) || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || s < 0 ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udpburst send");
		return 1;
	}
	setsockopt(s, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (unsigned i = 0; i < n;) {
		uint32_t seq = htonl(i);
		memcpy(buf, &seq, 4);
		if (send(s, buf, size, 0) == (ssize_t)size) {
			i++;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!waits++) {
				printf("UDPBURST-WAITING sent=%u\n", i);
				fflush(stdout);
			}
		} else if (errno == ENOBUFS) {
			enobufs++;
			usleep(1000);
		} else if (errno != EINTR && errno != ECONNREFUSED) {
			printf("UDPBURST-ERROR sent=%u: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("UDPBURST-SENT=%u waits=%u enobufs=%u seconds=%.2f\n", n, waits, enobufs, now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "recv"))
		return do_recv(atoi(argv[2]), (unsigned)atoi(argv[3]), atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), (unsigned)atoi(argv[4]), (size_t)atoi(argv[5]));
	fprintf(stderr, "usage: udpburst recv PORT N IDLE_S | send ADDR PORT N SIZE\n");
	return 2;
}
