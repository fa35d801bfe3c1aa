/* disk-backend: host-side microbenchmark of the disk backend's two engines
 * (io_uring and the thread pool), the way virtio-blk drives them: one
 * thread submits, keeps DEPTH requests in flight and completes them from
 * the eventfd.
 *
 *   disk-backend [-f FILE] [-s MiB] [-t SECONDS] [-q DEPTH]
 *
 * Build (after ninja -C build):
 *   cc -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/disk-backend.c build/libvmkit.a -luring -lpthread \
 *      -o /tmp/disk-backend
 *
 * Prints a Markdown table: IOPS, MiB/s and CPU time (all threads) per request for each engine, cache mode and
 * workload. */
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#include "attach/disk.h"

#define MAX_DEPTH 256

struct slot {
	struct disk_io io;
	struct iovec iov;
	void *buf;
};

struct run {
	struct disk *d;
	enum disk_op op;
	size_t bs;
	bool random;
	uint64_t size, next_off, done;
	unsigned seed;
	bool stop;
};

static struct run cur;

static void done(struct disk_io *io, int res);

static void submit(struct slot *s)
{
	uint64_t blocks = cur.size / cur.bs;

	if (cur.random)
		s->io.offset =
		    ((uint64_t)rand_r(&cur.seed) * 65536 + (uint64_t)rand_r(&cur.seed)) % blocks * cur.bs;
	else
		s->io.offset = cur.next_off, cur.next_off = (cur.next_off + cur.bs) % (blocks * cur.bs);
	s->iov = (struct iovec){s->buf, cur.bs};
	s->io.iov = &s->iov;
	s->io.iovcnt = 1;
	s->io.op = cur.op;
	s->io.done = done;
	if (disk_submit(cur.d, &s->io) != 0) {
		fprintf(stderr, "submit failed\n");
		exit(1);
	}
}

static void done(struct disk_io *io, int res)
{
	if (res) {
		fprintf(stderr, "I/O error %d\n", res);
		exit(1);
	}
	cur.done++;
	if (!cur.stop)
		submit((struct slot *)io);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench(const char *path, enum disk_engine engine, vmk_disk_caching_mode cache, enum disk_op op,
		  size_t bs, bool random, unsigned depth, double secs, const char *label)
{
	vmk_error *err = NULL;
	vmk_storage_attachment *a = vmk_disk_image_attachment_new(path, false, &err);
	static struct slot slots[MAX_DEPTH];
	struct pollfd p;
	double t0, t;

	if (!a) {
		fprintf(stderr, "%s\n", vmk_error_get_message(err));
		exit(1);
	}
	vmk_disk_attachment_set_caching_mode(a, cache);
	memset(&cur, 0, sizeof(cur));
	cur.d = disk_open(a, engine, "attachment", &err);
	vmk_storage_attachment_free(a);
	if (!cur.d) {
		fprintf(stderr, "%s\n", vmk_error_get_message(err));
		exit(1);
	}
	cur.op = op;
	cur.bs = bs;
	cur.random = random;
	cur.size = disk_size(cur.d);
	cur.seed = 1;
	for (unsigned i = 0; i < depth; i++) {
		if (!slots[i].buf && posix_memalign(&slots[i].buf, 4096, 1 << 20))
			exit(1);
		memset(slots[i].buf, (int)i, 1 << 20);
		submit(&slots[i]);
	}
	disk_kick(cur.d);
	p = (struct pollfd){.fd = disk_event_fd(cur.d), .events = POLLIN};
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	t0 = now();
	while ((t = now()) - t0 < secs) {
		poll(&p, 1, 100);
		disk_complete(cur.d);
	}
	getrusage(RUSAGE_SELF, &r1);
	cur.stop = true;
	uint64_t n = cur.done;
	bool direct = disk_direct(cur.d);
	disk_close(cur.d);
	double cpu =
	    (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
	    (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) /
		1e6;
	printf("| %s | %s | %s | %.0f | %.0f | %.1f |\n",
	       engine == DISK_ENGINE_URING ? "io_uring" : "threads (4)",
	       cache == VMK_DISK_CACHING_UNCACHED ? (direct ? "O_DIRECT" : "O_DIRECT refused") : "page cache",
	       label, (double)n / (t - t0), (double)n * (double)bs / (t - t0) / (1 << 20),
	       n ? cpu * 1e6 / (double)n : 0);
}

int main(int argc, char **argv)
{
	const char *path = "/var/tmp/vmkit-disk-backend.img";
	unsigned mib = 512, depth = 32;
	double secs = 3;
	int c;

	while ((c = getopt(argc, argv, "f:s:t:q:")) != -1) {
		if (c == 'f')
			path = optarg;
		else if (c == 's')
			mib = (unsigned)atoi(optarg);
		else if (c == 't')
			secs = atof(optarg);
		else if (c == 'q')
			depth = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (depth < 1 || depth > MAX_DEPTH)
		return 2;
	if (access(path, F_OK) != 0) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "dd if=/dev/urandom of=%s bs=1M count=%u status=none", path, mib);
		if (system(cmd) != 0)
			return 1;
	}
	printf("| engine | cache | workload (depth %u) | IOPS | MiB/s | CPU us/op "
	       "|\n|---|---|---|---|---|---|\n",
	       depth);
	static const enum disk_engine engines[] = {DISK_ENGINE_URING, DISK_ENGINE_THREADS};
	static const vmk_disk_caching_mode caches[] = {VMK_DISK_CACHING_CACHED, VMK_DISK_CACHING_UNCACHED};
	for (int ci = 0; ci < 2; ci++)
		for (int ei = 0; ei < 2; ei++) {
			bench(path, engines[ei], caches[ci], DISK_READ, 4096, true, depth, secs,
			      "4 KiB random read");
			bench(path, engines[ei], caches[ci], DISK_WRITE, 4096, true, depth, secs,
			      "4 KiB random write");
			bench(path, engines[ei], caches[ci], DISK_READ, 128 * 1024, false, depth, secs,
			      "128 KiB sequential read");
		}
	return 0;
}
