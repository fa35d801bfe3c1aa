/* libFuzzer target: the virtio-net transmit parser, mergeable receive and
 * control commands fed descriptor chains the fuzzer writes into real guest
 * RAM and the real queue walker pops. Every buffer handed to a backend must
 * lie in the element (or be the host copy of the header); frame sizes must
 * respect the limits. */
#include "fuzz_ring.h"
#include "virtio/net.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct virtq_elem elem;
static struct net_tx tx;
static struct net_rx_scratch rx;
static uint8_t frame[NET_MAX_GSO_FRAME];

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
	if (size < 6)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 7));
	struct net_limits lim = {.vnet_hdr = data[1] & 1, .plain_hdr = data[0] & 0x80, .max_frame = 1518};
	memcpy(&lim.features, data + 2, 2);
	lim.features = (lim.features & 0x3fff) | (uint64_t)(data[1] >> 1) << 15;
	size_t rx_len = (size_t)data[4] << 8 | data[5];
	bool mrg = data[1] & 2;
	data += 6;
	size -= 6;
	struct virtq q;
	if (!fuzz_ram_fill(data, size) || !fuzz_ring_init(&q, qsize, true, true))
		return 0;
	/* The same ring serves as transmit, control, then receive queue. */
	for (int i = 0; i < 8 && virtq_pop(&q, &elem) == 1; i++) {
		uint8_t cmd[256];
		size_t n = 0, len = 0;

		if (net_tx_parse(&elem, &lim, &tx) == 0) {
			for (unsigned j = 0; j < tx.niov; j++) {
				if (tx.iov[j].iov_base != &tx.hdr &&
				    !in_elem(tx.iov[j].iov_base, tx.iov[j].iov_len))
					abort();
				len += tx.iov[j].iov_len;
			}
			if (len != tx.frame_len + (lim.vnet_hdr || lim.plain_hdr ? NET_HDR_LEN : 0) ||
			    tx.frame_len < NET_ETH_HLEN || tx.frame_len > NET_MAX_GSO_FRAME)
				abort();
			if (!lim.vnet_hdr && tx.frame_len > lim.max_frame)
				abort();
			/* Without offloads the backend only ever sees a zeroed header. */
			static const struct virtio_net_hdr zero;
			if (!lim.vnet_hdr && memcmp(&tx.hdr, &zero, NET_HDR_LEN))
				abort();
		}
		n = iov_copy_from(elem.iov, elem.nout, 0, cmd, sizeof(cmd));
		if (net_ctrl_handle(cmd, n, lim.features) > VIRTIO_NET_ERR)
			abort();
	}
	if (!fuzz_ring_init(&q, qsize, true, true))
		return 0;
	struct virtio_net_hdr h = {.num_buffers = 1};
	struct iovec iov = {frame, rx_len};
	for (int i = 0; i < 8; i++)
		if (net_rx_deliver(&q, mrg, &h, &iov, 1, rx_len, &rx) != 1)
			break;
	return 0;
}
