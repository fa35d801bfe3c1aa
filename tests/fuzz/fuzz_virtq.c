/* libFuzzer target: the split-virtqueue walker against rings the fuzzer
 * writes. Guest RAM is a real gmem, so every accessor check is the one the
 * VMM runs; ASan catches any read or write outside it. The input sets the
 * queue size, the features and the bytes of the descriptor table, the
 * available ring and a data area. */
#include "fuzz_ring.h"
#include <stdint.h>
#include <string.h>

static struct virtq_elem elem;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 9)); /* 1 .. 256 */
	bool event_idx = data[1] & 1, indirect = data[1] & 2;
	data += 2;
	size -= 2;
	/* The rest of the input covers the tables and a data area after them. */
	struct virtq q;
	if (!fuzz_ram_fill(data, size) || !fuzz_ring_init(&q, qsize, event_idx, indirect))
		return 0;
	for (int i = 0; i < 64; i++) {
		int r = virtq_pop(&q, &elem);
		if (r <= 0)
			break;
		/* Touch every byte the walker handed out: it must all be RAM. */
		uint8_t sum = 0;
		for (unsigned j = 0; j < elem.nout + elem.nin; j++) {
			const uint8_t *p = elem.iov[j].iov_base;
			for (size_t k = 0; k < elem.iov[j].iov_len; k += 4096)
				sum ^= p[k];
		}
		(void)sum;
		virtq_push(&q, elem.head, (uint32_t)elem.in_len);
		virtq_should_notify(&q);
	}
	return 0;
}
