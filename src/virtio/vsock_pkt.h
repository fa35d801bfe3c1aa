/* virtio-vsock packets (virtio 1.2 section 5.10.6): the header on the wire
 * and the parser that turns a transmit-queue request into a validated,
 * typed packet before the device acts on it, so the fuzzer can drive the
 * parser alone. */
#ifndef VMK_VSOCK_PKT_H
#define VMK_VSOCK_PKT_H

#include "virtio/queue.h"
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HOST_CID	  2
#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV  1 /* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND 2 /* the sender will send no more */

/* The largest payload one packet carries (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PAYLOAD (64 * 1024)

/* Little-endian on the wire, 44 bytes. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_LEN sizeof(struct vsock_hdr)

/* A packet from the guest, host byte order. The payload stays in guest
 * memory: len bytes of the request's device-readable buffers from offset
 * VSOCK_HDR_LEN. */
struct vsock_pkt {
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

enum vsock_parse {
	VSOCK_PKT_OK = 0,
	/* Not answerable (no full header, not from the guest's CID): drop. */
	VSOCK_PKT_DROP,
	/* A header we can answer but must refuse (a CID other than the host,
	 * another socket type, an unknown op, a length that does not match the
	 * payload or is over VSOCK_MAX_PAYLOAD): reply RST to its ports. */
	VSOCK_PKT_RESET,
};

/* Parses the transmit request e of a guest whose CID is guest_cid. p is
 * filled (ports at least) for OK and RESET. */
enum vsock_parse vsock_pkt_parse(const struct virtq_elem *e, uint64_t guest_cid, struct vsock_pkt *p);

/* A header from the host (CID 2) to the guest, ready for the wire. */
void vsock_hdr_make(struct vsock_hdr *h, uint64_t guest_cid, uint32_t host_port, uint32_t guest_port,
		    enum vsock_op op, uint32_t len, uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt);

/* Firecracker's hybrid socket: a host client's first line, "CONNECT
 * <port>\n" (a '\r' before the '\n' is taken too). Not guest input, but
 * a local client's: bounded and checked all the same. */
#define VSOCK_HYBRID_LINE_MAX 32

/* line: len bytes ending with '\n'. Returns 0 and the port (1 to
 * 0xfffffffe), or -EINVAL. */
int vsock_hybrid_parse(const char *line, size_t len, uint32_t *port);

#endif
