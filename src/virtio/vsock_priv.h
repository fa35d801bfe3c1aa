/* virtio-vsock's insides, shared by the device (vsock.c: queues, packets,
 * credit, lifecycle) and its host endpoints (vsock_host.c: listening
 * sockets, the hybrid socket, the application's listeners and connects).
 * Every struct here is guarded by virtio_vsock.lock. */
#ifndef VMK_VSOCK_PRIV_H
#define VMK_VSOCK_PRIV_H

#include "virtio/devices.h"
#include "virtio/vsock_pkt.h"
#include <pthread.h>
#include <sys/un.h>

#define VIRTIO_ID_VSOCK 19
#define VSOCK_RXQ	0
#define VSOCK_TXQ	1
#define VSOCK_EVQ	2

#define VSOCK_BUF_ALLOC	      (64 * 1024)
#define VSOCK_MAX_CONNS	      512
#define VSOCK_MAX_ORPHANS     64 /* resets owed to packets of no connection */
#define VSOCK_FIRST_HOST_PORT 0x40000000u

/* How long a hybrid client may take to send its CONNECT line, and a guest
 * (or the application) to answer a connection. */
#define VSOCK_LINE_TIMEOUT_NS	(5ull * 1000000000)
#define VSOCK_ANSWER_TIMEOUT_NS ((uint64_t)VMK_SOCKET_CONNECT_TIMEOUT_MS * 1000000)
#define VSOCK_TICK_NS		250000000

/* Control packets owed to the guest, sent in this order. */
#define PEND_REQUEST  1u
#define PEND_RESPONSE 2u
#define PEND_CREDIT   4u
#define PEND_SHUTDOWN 8u
#define PEND_RST      16u

enum conn_state {
	CONN_REQUESTED, /* host side connected first: waiting for the guest's RESPONSE */
	CONN_ACCEPTING, /* the guest's REQUEST waits for the application's accept */
	CONN_LINE,	/* a hybrid client: its CONNECT line is not read yet (no ports) */
	CONN_OPEN,
	CONN_CLOSED, /* waiting only to send its RST, then freed */
};

struct vsock_conn {
	struct virtio_vsock *vs;
	uint32_t guest_port, host_port;
	int fd;
	enum conn_state state;
	uint32_t watched; /* epoll events registered, 0 = not registered */
	unsigned pend;
	uint32_t shutdown_flags; /* of the PEND_SHUTDOWN packet */
	bool queued;		 /* on the pending list */
	struct vsock_conn *next_pend, *next_dead;
	/* Guest to host. */
	uint8_t *buf; /* VSOCK_BUF_ALLOC bytes once needed */
	uint32_t buf_len;
	uint32_t fwd_cnt, fwd_cnt_sent;
	bool guest_sent_all; /* SHUTDOWN SEND: host side shut for writing once flushed */
	bool guest_closed;   /* SHUTDOWN of both: RST once the buffer is flushed */
	/* Host to guest. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	bool guest_reads_no_more; /* SHUTDOWN RCV */
	bool host_eof;
	/* Run-time API and hybrid clients. */
	uint64_t id;	   /* the owner's id of an accept or a connect, or 0 */
	int app_fd;	   /* a connect's application end, until the guest answers */
	bool connecting;   /* the owner waits for the guest's answer to a connect */
	int fail_errno;	   /* why a connect failed, when not a reset */
	bool hybrid;	   /* answer "OK <port>\n" to the client once the guest does */
	uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */
	uint8_t line_len;
	char line[VSOCK_HYBRID_LINE_MAX];
};

struct vsock_listener {
	struct virtio_vsock *vs;
	uint32_t port; /* 0: the hybrid socket */
	int fd;
	char *path;
};

struct vsock_ports {
	uint32_t host_port, guest_port;
};

struct vsock_out {
	uint64_t notify;
	const char *broken;
};

struct virtio_vsock {
	struct virtio_dev dev;
	struct {
		uint64_t guest_cid;
	} __attribute__((packed)) config;
	uint64_t guest_cid;
	struct vmk_socket_device *cfg; /* owned copy */
	struct virtio_vsock_hooks hooks;
	struct vsock_listener listeners[VMK_SOCKET_MAX_FORWARDS + 1];
	unsigned nlisteners;
	bool listening;
	struct evloop *loop;
	int timer_fd;

	pthread_mutex_t lock; /* guards everything below */
	bool active;
	struct vsock_conn *conns[VSOCK_MAX_CONNS];
	unsigned nconns;
	struct vsock_conn *pend_head, *pend_tail;
	struct vsock_ports orphans[VSOCK_MAX_ORPHANS];
	unsigned norphans;
	uint64_t orphans_dropped;
	bool timer_armed;
	bool rx_starved;
	uint32_t next_host_port;
	struct vsock_conn *dead; /* unlinked by a reset, freed on the I/O thread */
	struct virtq_elem elem;
	struct iovec slice[VIRTQ_MAX_IOV];
	struct vsock_out out;
};

/* vsock.c: the connection table and what the guest is owed. */
uint64_t vsock_now_ns(void);
/* Arms the deadline timer; ns = 0 clears c's deadline. */
void vsock_set_deadline(struct vsock_conn *c, uint64_t ns);
void vsock_conn_watch(struct vsock_conn *c);
void vsock_conn_pend(struct vsock_conn *c, unsigned what);
void vsock_orphan_rst(struct virtio_vsock *vs, uint32_t host_port, uint32_t guest_port);
struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port);
struct vsock_conn *vsock_conn_by_id(struct virtio_vsock *vs, uint64_t id);
uint32_t vsock_alloc_port(struct virtio_vsock *vs, uint32_t guest_port);
struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port, int fd);
void vsock_conn_close(struct vsock_conn *c, bool send_rst);
void vsock_conn_drop(struct virtio_vsock *vs, struct vsock_conn *c);
void vsock_rx_flush(struct virtio_vsock *vs);
/* Unlocks vs->lock, then notifies the queues the work used. */
void vsock_finish(struct virtio_vsock *vs);

/* vsock_host.c. */
/* The guest's REQUEST p to a host port no connection has. */
void vsock_host_connect(struct virtio_vsock *vs, const struct vsock_pkt *p);
/* The guest's RESPONSE opened c: tell its host side. False: c is closed. */
bool vsock_host_answered(struct vsock_conn *c);
/* A hybrid client's CONNECT line, as far as it came; c may be closed. */
void vsock_host_read_line(struct vsock_conn *c);
/* Listens on path for port (0: the hybrid socket). At creation. */
bool vsock_host_listen(struct virtio_vsock *vs, uint32_t port, char *path, vmk_error **err);
/* Epoll callbacks: a listening socket's client, the deadline timer. */
void vsock_host_accept(void *ctx, uint32_t events);
void vsock_host_tick(void *ctx, uint32_t events);

#endif
