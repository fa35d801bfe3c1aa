/* libFuzzer target: the virtio-vsock packet parser fed transmit requests the
 * fuzzer writes into real guest RAM and the real queue walker pops. A packet
 * the parser accepts must be exactly what the device may act on: a known op,
 * a stream socket to the host, and a payload of exactly len bytes (only for
 * RW, at most VSOCK_MAX_PAYLOAD) inside the request. The same input is
 * also a hybrid socket client's first line: a port is accepted only from
 * "CONNECT <digits>\n" within the line bound, and only 1 to 0xfffffffe. */
#include "fuzz_ring.h"
#include "virtio/vsock_pkt.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct virtq_elem elem;

static void fuzz_line(const uint8_t *data, size_t size)
{
	char line[VSOCK_HYBRID_LINE_MAX + 8];
	uint32_t port = 0;
	size_t n = size < sizeof(line) ? size : sizeof(line);

	memcpy(line, data, n);
	if (vsock_hybrid_parse(line, n, &port) != 0)
		return;
	if (n > VSOCK_HYBRID_LINE_MAX || memcmp(line, "CONNECT ", 8) != 0 || line[n - 1] != '\n' ||
	    port == 0 || port == UINT32_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_line(data, size);
	if (size < 2)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 7));
	uint64_t cid = 3 + data[1] % 2;
	data += 2;
	size -= 2;
	struct virtq q;
	if (!fuzz_ram_fill(data, size) || !fuzz_ring_init(&q, qsize, false, true))
		return 0;
	for (int i = 0; i < 16 && virtq_pop(&q, &elem) == 1; i++) {
		struct vsock_pkt p;
		enum vsock_parse r = vsock_pkt_parse(&elem, cid, &p);
		if (r != VSOCK_PKT_OK)
			continue;
		if (p.op < VSOCK_OP_REQUEST || p.op > VSOCK_OP_CREDIT_REQUEST || p.len > VSOCK_MAX_PAYLOAD ||
		    (p.op != VSOCK_OP_RW && p.len) || elem.out_len != VSOCK_HDR_LEN + p.len)
			abort();
		uint8_t buf[64];
		if (iov_copy_from(elem.iov, elem.nout, VSOCK_HDR_LEN, buf, sizeof(buf)) >
		    (p.len < sizeof(buf) ? p.len : sizeof(buf)))
			abort();
	}
	return 0;
}
