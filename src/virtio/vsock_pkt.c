/* virtio-vsock packet parsing (virtio 1.2 section 5.10.6). Everything the
 * guest wrote is read once, into a host copy, and checked here. */
#include "virtio/vsock_pkt.h"
#include <endian.h>
#include <errno.h>
#include <string.h>

enum vsock_parse vsock_pkt_parse(const struct virtq_elem *e, uint64_t guest_cid, struct vsock_pkt *p)
{
	struct vsock_hdr h;

	if (e->out_len < VSOCK_HDR_LEN || iov_copy_from(e->iov, e->nout, 0, &h, sizeof(h)) != sizeof(h))
		return VSOCK_PKT_DROP;
	/* A packet that claims another source cannot be answered to it. */
	if (le64toh(h.src_cid) != guest_cid)
		return VSOCK_PKT_DROP;
	*p = (struct vsock_pkt){
	    .src_port = le32toh(h.src_port),
	    .dst_port = le32toh(h.dst_port),
	    .len = le32toh(h.len),
	    .op = le16toh(h.op),
	    .flags = le32toh(h.flags),
	    .buf_alloc = le32toh(h.buf_alloc),
	    .fwd_cnt = le32toh(h.fwd_cnt),
	};
	if (le64toh(h.dst_cid) != VSOCK_HOST_CID || le16toh(h.type) != VSOCK_TYPE_STREAM)
		return VSOCK_PKT_RESET;
	if (p->op < VSOCK_OP_REQUEST || p->op > VSOCK_OP_CREDIT_REQUEST)
		return VSOCK_PKT_RESET;
	/* Only RW carries data, and exactly len bytes of it. */
	if (p->len > VSOCK_MAX_PAYLOAD || (p->op != VSOCK_OP_RW && p->len != 0) ||
	    e->out_len - VSOCK_HDR_LEN != p->len)
		return VSOCK_PKT_RESET;
	return VSOCK_PKT_OK;
}

void vsock_hdr_make(struct vsock_hdr *h, uint64_t guest_cid, uint32_t host_port, uint32_t guest_port,
		    enum vsock_op op, uint32_t len, uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	*h = (struct vsock_hdr){
	    .src_cid = htole64(VSOCK_HOST_CID),
	    .dst_cid = htole64(guest_cid),
	    .src_port = htole32(host_port),
	    .dst_port = htole32(guest_port),
	    .len = htole32(len),
	    .type = htole16(VSOCK_TYPE_STREAM),
	    .op = htole16((uint16_t)op),
	    .flags = htole32(flags),
	    .buf_alloc = htole32(buf_alloc),
	    .fwd_cnt = htole32(fwd_cnt),
	};
}

int vsock_hybrid_parse(const char *line, size_t len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	uint64_t v = 0;
	size_t i = sizeof(verb) - 1, digits = 0;

	if (len > VSOCK_HYBRID_LINE_MAX || len < i + 2 || line[len - 1] != '\n' || memcmp(line, verb, i) != 0)
		return -EINVAL;
	len--;
	if (line[len - 1] == '\r')
		len--;
	while (i < len && line[i] == ' ')
		i++;
	/* Ten digits at most: no overflow of v. */
	for (; i < len && line[i] >= '0' && line[i] <= '9' && digits < 10; i++, digits++)
		v = v * 10 + (uint64_t)(line[i] - '0');
	if (i != len || !digits || v == 0 || v >= UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}
