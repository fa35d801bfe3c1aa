/* libFuzzer target: the split-virtqueue walker against rings the fuzzer
 * writes. Guest RAM is a real gmem, so every accessor check is the one the
 * VMM runs; ASan catches any read or write outside it. The input sets the
 * queue size, the features and the bytes of the descriptor table, the
 * available ring and a data area. */
#include "virtio/queue.h"
#include <stdint.h>
#include <string.h>

#define RAM  (1u << 20)
#define DESC 0x1000

static struct gmem mem;
static struct virtq_elem elem;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!mem.base && gmem_init(&mem, RAM) < 0)
		return 0;
	if (size < 2)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 9)); /* 1 .. 256 */
	bool event_idx = data[1] & 1, indirect = data[1] & 2;
	data += 2;
	size -= 2;
	memset(mem.base, 0, 0x20000);
	/* The rest of the input covers the tables and a data area after them. */
	size_t n = size < 0x20000 - DESC ? size : 0x20000 - DESC;
	memcpy(mem.base + DESC, data, n);
	struct virtq q;
	/* Rings packed right after the table, so short inputs reach them. */
	uint64_t avail = DESC + 16ULL * qsize;
	uint64_t used = (avail + 6 + 2ULL * qsize + 3) & ~3ULL;
	if (virtq_init(&q, &mem, qsize, DESC, avail, used, event_idx, indirect) < 0)
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
