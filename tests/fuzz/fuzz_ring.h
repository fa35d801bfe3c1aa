/* Shared by the libFuzzer targets: the fuzzer's bytes become a split
 * virtqueue in real guest RAM (a gmem, so every accessor check is the one
 * the VMM runs, and ASan sees any access outside it): the descriptor table
 * at FUZZ_DESC, then the available and used rings packed right after it, so
 * short inputs reach them, then a data area. */
#ifndef VMK_FUZZ_RING_H
#define VMK_FUZZ_RING_H

#include "virtio/queue.h"
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define FUZZ_RAM  (1u << 20)
#define FUZZ_DESC 0x1000
#define FUZZ_AREA 0x20000 /* what the input may cover */

static struct gmem fuzz_mem;

/* Copies the input into RAM (once per run); false without RAM. */
static inline bool fuzz_ram_fill(const uint8_t *data, size_t size)
{
	if (!fuzz_mem.base && gmem_init(&fuzz_mem, FUZZ_RAM) < 0)
		return false;
	memset(fuzz_mem.base, 0, FUZZ_AREA);
	memcpy(fuzz_mem.base + FUZZ_DESC, data, size < FUZZ_AREA - FUZZ_DESC ? size : FUZZ_AREA - FUZZ_DESC);
	return true;
}

/* A queue of qsize entries over those bytes; false when the rings are refused. */
static inline bool fuzz_ring_init(struct virtq *q, uint16_t qsize, bool event_idx, bool indirect)
{
	uint64_t avail = FUZZ_DESC + 16ULL * qsize;
	uint64_t used = (avail + 6 + 2ULL * qsize + 3) & ~3ULL;

	return virtq_init(q, &fuzz_mem, qsize, FUZZ_DESC, avail, used, event_idx, indirect) == 0;
}

#endif
