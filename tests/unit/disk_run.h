/* Runs disk backend requests to completion for the unit tests: submit,
 * drain, and report the one completion's result. */
#ifndef VMK_TEST_DISK_RUN_H
#define VMK_TEST_DISK_RUN_H

#include <stdint.h>
#include <sys/uio.h>

#include "attach/disk.h"

static int disk_run_res, disk_run_done;

static void disk_run_on_done(struct disk_io *io, int res)
{
	(void)io;
	disk_run_res = res;
	disk_run_done++;
}

/* One request; its result, the submit error, or -999 when it did not
 * complete exactly once. */
static inline int run(struct disk *d, struct disk_io *io)
{
	int r;

	io->done = disk_run_on_done;
	disk_run_done = 0;
	r = disk_submit(d, io);
	if (r)
		return r;
	disk_drain(d);
	return disk_run_done == 1 ? disk_run_res : -999;
}

/* A read or write split over two iovecs, so scatter-gather is exercised. */
static inline int rw(struct disk *d, enum disk_op op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov[2] = {{buf, len / 2}, {(uint8_t *)buf + len / 2, len - len / 2}};
	struct disk_io io = {.op = op, .offset = off, .iov = iov, .iovcnt = 2};

	return run(d, &io);
}

#endif
