/* libFuzzer target: the virtio-blk request parser fed descriptor chains
 * the fuzzer writes into real guest RAM and the real queue walker pops, so
 * the parser sees exactly what a hostile driver can produce. Every buffer
 * the parser hands back must lie in the element it was given. */
#include "fuzz_ring.h"
#include "virtio/blk.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	if (size < 3)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 7));
	bool ro = data[1] & 1;
	uint64_t capacity = data[2] * 8ULL;
	data += 3;
	size -= 3;
	struct virtq q;
	if (!fuzz_ram_fill(data, size) || !fuzz_ring_init(&q, qsize, false, true))
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
