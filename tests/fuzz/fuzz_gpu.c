/* libFuzzer target: virtio-gpu requests the fuzzer writes into real guest
 * RAM, popped by the real queue walker, parsed (gpu_cmd.c) and executed by
 * the 2D engine (gpu_res.c) against a small memory cap, then every scanout
 * copied out as the host does: resources, backing lists, transfers and
 * rectangles with any values must stay inside their buffers (ASan), and the
 * cap must hold. */
#include "fuzz_ring.h"
#include "virtio/gpu_res.h"
#include <stdlib.h>

static struct virtq_elem elem;
static struct gpu_mem_entry entries[GPU_MAX_ENTRIES];
static uint8_t resp[GPU_RESP_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t w[2] = {640, 64}, h[2] = {480, 64};
	static struct gpu_state st;

	if (size < 2)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 7));
	bool edid = data[1] & 1;
	data += 2;
	size -= 2;
	struct virtq q;
	if (!fuzz_ram_fill(data, size) || !fuzz_ring_init(&q, qsize, false, true))
		return 0;
	gpu_state_init(&st, &fuzz_mem, 16ull << 20, 2, w, h);
	st.edid = edid;
	for (int i = 0; i < 32 && virtq_pop(&q, &elem) == 1; i++) {
		struct gpu_cmd c;
		if (gpu_cmd_parse(elem.iov, elem.nout, &c, entries, GPU_MAX_ENTRIES) != GPU_PARSE_OK)
			continue;
		size_t n = gpu_exec(&st, &c, entries, resp);
		if (n > sizeof(resp) || st.used > st.limit)
			abort();
		for (unsigned s = 0; s < 2; s++) {
			uint32_t fw, fh;
			if (!gpu_scanout_size(&st, s, &fw, &fh))
				continue;
			uint8_t *px = malloc((size_t)fw * fh * 4 + 1);
			if (!px)
				abort();
			gpu_scanout_copy(&st, s, px);
			free(px);
		}
	}
	gpu_state_reset(&st);
	if (st.used || st.nresources)
		abort();
	return 0;
}
