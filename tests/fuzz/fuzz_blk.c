/* libFuzzer target: the virtio-blk request parser fed descriptor chains
 * the fuzzer writes into real guest RAM and the real queue walker pops, so
 * the parser sees exactly what a hostile driver can produce. Every buffer
 * the parser hands back must lie in the element it was given. */
#include "virtio/blk.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM  (1u << 20)
#define DESC 0x1000

static struct gmem mem;
static struct virtq_elem elem;
static struct blk_request req;

static int in_elem(const void *p, size_t len)
{
	for (unsigned i = 0; i < elem.nout + elem.nin; i++) {
		const uint8_t *b = elem.iov[i].iov_base;
		if ((const uint8_t *)p >= b && (const uint8_t *)p + len <= b + elem.iov[i].iov_len)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!mem.base && gmem_init(&mem, RAM) < 0)
		return 0;
	if (size < 3)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 7));
	bool ro = data[1] & 1;
	uint64_t capacity = data[2] * 8ULL;
	data += 3;
	size -= 3;
	memset(mem.base, 0, 0x20000);
	memcpy(mem.base + DESC, data, size < 0x20000 - DESC ? size : 0x20000 - DESC);
	uint64_t avail = DESC + 16ULL * qsize;
	uint64_t used = (avail + 6 + 2ULL * qsize + 3) & ~3ULL;
	struct virtq q;
	if (virtq_init(&q, &mem, qsize, DESC, avail, used, false, true) < 0)
		return 0;
	for (int i = 0; i < 16 && virtq_pop(&q, &elem) == 1; i++) {
		int r = blk_parse_request(&elem, capacity, ro, &req);
		if (r < 0)
			break;
		if (!in_elem(req.status, 1))
			abort();
		if (r != VIRTIO_BLK_S_OK)
			continue;
		for (unsigned j = 0; j < req.niov; j++)
			if (!in_elem(req.iov[j].iov_base, req.iov[j].iov_len))
				abort();
		if ((req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_OUT) &&
		    (req.data_len % 512 || req.sector > capacity ||
		     req.data_len / 512 > capacity - req.sector))
			abort();
		if (ro && req.type == VIRTIO_BLK_T_OUT)
			abort();
		for (unsigned j = 0; j < req.nseg; j++)
			if (req.seg[j].sector > capacity ||
			    req.seg[j].num_sectors > capacity - req.seg[j].sector)
				abort();
	}
	return 0;
}
