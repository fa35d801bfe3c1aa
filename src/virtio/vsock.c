/* virtio-vsock (virtio 1.2 section 5.10): stream sockets between the guest
 * and the host (CID 2), each joined to a host stream socket: a unix socket of
 * a configured forward (include/vmkit/socket.h). Queues: 0 receive (device
 * to guest), 1 transmit, 2 event (unused: its only event, transport reset,
 * is for migration). No feature bits: stream sockets only.
 *
 * Everything runs on the machine's I/O thread: queue kicks and the host
 * sockets' epoll callbacks. A driver reset (on a vCPU thread) only unlinks
 * the connections under the lock and posts their teardown there, so a
 * connection is freed on the one thread whose callbacks use it.
 *
 * Flow control is the spec's credit scheme in both directions:
 * - guest to host: we advertise VSOCK_BUF_ALLOC bytes per connection. What
 *   the host socket does not take at once waits in the connection's buffer,
 *   which that credit bounds; a guest that sends beyond it is reset. fwd_cnt
 *   grows as bytes reach the host socket, and a credit update goes out when a
 *   quarter of the buffer has been freed since the guest last heard.
 * - host to guest: we read from the host socket no more than the guest's
 *   credit and one receive buffer allow; with no credit, or no receive
 *   buffers, the socket is not watched for input until the guest gives more.
 * Host memory is bounded by VSOCK_MAX_CONNS * VSOCK_BUF_ALLOC; a wake-up
 * reads at most one packet per socket and handles at most one queue's worth
 * of transmit requests, so no guest keeps the I/O thread busy.
 *
 * Where a connection's host side comes from (forwards, the hybrid socket,
 * the application's listeners and connects) is vsock_host.c's business. */
#include "util/error_priv.h"
#include "virtio/vsock_priv.h"
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void conn_readable(void *ctx, uint32_t events);

static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

uint64_t vsock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* The deadline timer ticks only while some connection has a deadline. */
void vsock_set_deadline(struct vsock_conn *c, uint64_t ns)
{
	struct virtio_vsock *vs = c->vs;
	struct itimerspec t = {.it_value.tv_nsec = VSOCK_TICK_NS, .it_interval.tv_nsec = VSOCK_TICK_NS};

	c->deadline = ns ? vsock_now_ns() + ns : 0;
	if (ns && !vs->timer_armed && vs->timer_fd >= 0)
		vs->timer_armed = timerfd_settime(vs->timer_fd, 0, &t, NULL) == 0;
}

static bool conn_wants_input(const struct vsock_conn *c)
{
	return c->vs->active && c->state == CONN_OPEN && !c->guest_reads_no_more && !c->host_eof &&
	       !(c->pend & (PEND_REQUEST | PEND_RESPONSE)) && !c->vs->rx_starved && peer_credit(c) > 0;
}

/* Registers the host socket for what the connection can use now, and
 * nothing else: a socket whose peer hung up reports EPOLLHUP whatever it is
 * watched for, so an idle one must not be watched at all. */
void vsock_conn_watch(struct vsock_conn *c)
{
	uint32_t want = (conn_wants_input(c) || c->state == CONN_LINE ? EPOLLIN : 0) |
			(c->buf_len && c->state == CONN_OPEN ? EPOLLOUT : 0);
	struct evloop *l = c->vs->loop;

	if (c->fd < 0 || !l || want == c->watched)
		return;
	if (!want)
		evloop_del_fd(l, c->fd);
	else if (!c->watched)
		want = evloop_add_fd(l, c->fd, want, conn_readable, c) == 0 ? want : 0;
	else if (evloop_mod_fd(l, c->fd, want) != 0)
		want = c->watched;
	c->watched = want;
}

void vsock_conn_pend(struct vsock_conn *c, unsigned what)
{
	struct virtio_vsock *vs = c->vs;

	c->pend |= what;
	if (c->queued)
		return;
	c->queued = true;
	c->next_pend = NULL;
	if (vs->pend_tail)
		vs->pend_tail->next_pend = c;
	else
		vs->pend_head = c;
	vs->pend_tail = c;
}

/* A guest that sends faster than it gives receive buffers fills the ring;
 * then its connects to nobody time out instead of failing at once. Said on
 * stderr at the 1st, 2nd, 4th, 8th... drop, so it is seen but not a flood. */
void vsock_orphan_rst(struct virtio_vsock *vs, uint32_t host_port, uint32_t guest_port)
{
	if (vs->norphans < VSOCK_MAX_ORPHANS) {
		vs->orphans[vs->norphans++] = (struct vsock_ports){host_port, guest_port};
		return;
	}
	vs->orphans_dropped++;
	if ((vs->orphans_dropped & (vs->orphans_dropped - 1)) == 0)
		fprintf(stderr,
			"vmkit: virtio-vsock: %llu resets to unknown connections dropped (the guest gives "
			"no receive buffers for them)\n",
			(unsigned long long)vs->orphans_dropped);
}

struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port)
{
	for (unsigned i = 0; i < vs->nconns; i++)
		if (vs->conns[i]->guest_port == guest_port && vs->conns[i]->host_port == host_port &&
		    vs->conns[i]->state != CONN_LINE)
			return vs->conns[i];
	return NULL;
}

struct vsock_conn *vsock_conn_by_id(struct virtio_vsock *vs, uint64_t id)
{
	for (unsigned i = 0; i < vs->nconns; i++)
		if (vs->conns[i]->id == id)
			return vs->conns[i];
	return NULL;
}

/* A host port that no connection to guest_port uses. */
uint32_t vsock_alloc_port(struct virtio_vsock *vs, uint32_t guest_port)
{
	uint32_t port = vs->next_host_port;

	for (unsigned tries = 0; tries <= VSOCK_MAX_CONNS && vsock_conn_find(vs, guest_port, port); tries++)
		port = port + 1 >= UINT32_MAX ? VSOCK_FIRST_HOST_PORT : port + 1;
	vs->next_host_port = port + 1 >= UINT32_MAX ? VSOCK_FIRST_HOST_PORT : port + 1;
	return port;
}

/* The owner waits for the guest's answer to a connect: tell it the answer
 * will not come. */
static void conn_connect_failed(struct vsock_conn *c)
{
	if (!c->connecting)
		return;
	c->connecting = false;
	if (c->app_fd >= 0)
		close(c->app_fd);
	c->app_fd = -1;
	if (c->vs->hooks.connected)
		c->vs->hooks.connected(c->vs->hooks.ctx, c->id, -1,
				       c->fail_errno ? c->fail_errno : ECONNRESET);
}

struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port, int fd)
{
	struct vsock_conn *c;

	if (vs->nconns == VSOCK_MAX_CONNS || !(c = calloc(1, sizeof(*c))))
		return NULL;
	*c = (struct vsock_conn){
	    .vs = vs, .guest_port = guest_port, .host_port = host_port, .fd = fd, .app_fd = -1};
	vs->conns[vs->nconns++] = c;
	return c;
}

/* Closes the host socket now; the connection lives on only while its RST
 * (if any) waits for a receive buffer. */
void vsock_conn_close(struct vsock_conn *c, bool send_rst)
{
	conn_connect_failed(c);
	c->deadline = 0;
	if (c->fd >= 0) {
		if (c->watched && c->vs->loop)
			evloop_del_fd(c->vs->loop, c->fd);
		close(c->fd);
	}
	c->fd = -1;
	c->watched = 0;
	c->state = CONN_CLOSED;
	c->pend = 0;
	c->buf_len = 0;
	if (send_rst)
		vsock_conn_pend(c, PEND_RST);
}

static void conn_free(struct vsock_conn *c)
{
	conn_connect_failed(c);
	if (c->fd >= 0) {
		if (c->watched && c->vs->loop)
			evloop_del_fd(c->vs->loop, c->fd);
		close(c->fd);
	}
	free(c->buf);
	free(c);
}

/* Unlinks c from the table and the pending list and frees it. */
void vsock_conn_drop(struct virtio_vsock *vs, struct vsock_conn *c)
{
	for (unsigned i = 0; i < vs->nconns; i++)
		if (vs->conns[i] == c) {
			vs->conns[i] = vs->conns[--vs->nconns];
			break;
		}
	if (c->queued) {
		struct vsock_conn **pp = &vs->pend_head, *prev = NULL;
		while (*pp && *pp != c) {
			prev = *pp;
			pp = &(*pp)->next_pend;
		}
		if (*pp)
			*pp = c->next_pend;
		if (vs->pend_tail == c)
			vs->pend_tail = prev;
	}
	conn_free(c);
}

/* Fills one receive buffer with a header (and payload read from the host
 * socket by the caller). Returns false when the guest gave no buffer. */
static bool rx_send(struct virtio_vsock *vs, const struct vsock_conn *c, enum vsock_op op, uint32_t flags,
		    uint32_t host_port, uint32_t guest_port)
{
	struct virtq *vq = virtio_queue(&vs->dev, VSOCK_RXQ);
	struct vsock_hdr h;
	int r;

	if (!vq) {
		vs->rx_starved = true;
		return false;
	}
	/* Buffers too small for a header are used up empty; at most a queue's
	 * worth per call, however fast the guest adds more. */
	for (unsigned tries = 0; (r = tries++ < vq->size ? virtq_pop(vq, &vs->elem) : 0) == 1;) {
		vs->out.notify |= 1ull << VSOCK_RXQ;
		if (vs->elem.in_len >= VSOCK_HDR_LEN)
			break;
		virtq_push(vq, vs->elem.head, 0);
	}
	if (r < 0)
		vs->out.broken = "virtio-vsock: malformed receive queue";
	if (r != 1) {
		vs->rx_starved = true;
		return false;
	}
	vsock_hdr_make(&h, vs->guest_cid, host_port, guest_port, op, 0, flags, VSOCK_BUF_ALLOC,
		       c ? c->fwd_cnt : 0);
	iov_copy_to(&vs->elem.iov[vs->elem.nout], vs->elem.nin, 0, &h, sizeof(h));
	virtq_push(vq, vs->elem.head, sizeof(h));
	return true;
}

/* Sends what is owed to the guest, while it gives receive buffers. */
void vsock_rx_flush(struct virtio_vsock *vs)
{
	while (vs->norphans) {
		if (!rx_send(vs, NULL, VSOCK_OP_RST, 0, vs->orphans[0].host_port, vs->orphans[0].guest_port))
			return;
		memmove(&vs->orphans[0], &vs->orphans[1], --vs->norphans * sizeof(vs->orphans[0]));
	}
	while (vs->pend_head) {
		struct vsock_conn *c = vs->pend_head;
		static const struct {
			unsigned bit;
			enum vsock_op op;
		} order[] = {{PEND_REQUEST, VSOCK_OP_REQUEST},
			     {PEND_RESPONSE, VSOCK_OP_RESPONSE},
			     {PEND_CREDIT, VSOCK_OP_CREDIT_UPDATE},
			     {PEND_SHUTDOWN, VSOCK_OP_SHUTDOWN},
			     {PEND_RST, VSOCK_OP_RST}};

		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			if (!(c->pend & order[i].bit))
				continue;
			if (!rx_send(vs, c, order[i].op,
				     order[i].bit == PEND_SHUTDOWN ? c->shutdown_flags : 0, c->host_port,
				     c->guest_port))
				return;
			c->pend &= ~order[i].bit;
			c->fwd_cnt_sent = c->fwd_cnt;
		}
		vs->pend_head = c->next_pend;
		if (!vs->pend_head)
			vs->pend_tail = NULL;
		c->queued = false;
		if (c->state == CONN_CLOSED)
			vsock_conn_drop(vs, c);
		else
			vsock_conn_watch(c);
	}
}

/* One read from the host socket into one receive buffer. */
static void conn_receive(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;
	struct virtq *vq = virtio_queue(&vs->dev, VSOCK_RXQ);
	uint32_t credit = peer_credit(c);
	struct vsock_hdr h;
	ssize_t n;
	int r;

	if (!vq)
		vs->rx_starved = true; /* no receive queue: nothing to read into */
	if (!conn_wants_input(c))
		return;
	for (unsigned tries = 0; (r = tries++ < vq->size ? virtq_pop(vq, &vs->elem) : 0) == 1;) {
		vs->out.notify |= 1ull << VSOCK_RXQ;
		if (vs->elem.in_len > VSOCK_HDR_LEN)
			break;
		virtq_push(vq, vs->elem.head, 0);
	}
	if (r != 1) {
		if (r < 0)
			vs->out.broken = "virtio-vsock: malformed receive queue";
		vs->rx_starved = true;
		return;
	}
	uint64_t room = vs->elem.in_len - VSOCK_HDR_LEN;
	size_t want = room < credit ? (size_t)room : credit;
	if (want > VSOCK_MAX_PAYLOAD)
		want = VSOCK_MAX_PAYLOAD;
	unsigned k = iov_slice(&vs->elem.iov[vs->elem.nout], vs->elem.nin, VSOCK_HDR_LEN, want, vs->slice,
			       VIRTQ_MAX_IOV);
	n = readv(c->fd, vs->slice, (int)k);
	if (n > 0) {
		vsock_hdr_make(&h, vs->guest_cid, c->host_port, c->guest_port, VSOCK_OP_RW, (uint32_t)n, 0,
			       VSOCK_BUF_ALLOC, c->fwd_cnt);
		iov_copy_to(&vs->elem.iov[vs->elem.nout], vs->elem.nin, 0, &h, sizeof(h));
		virtq_push(vq, vs->elem.head, (uint32_t)(sizeof(h) + (size_t)n));
		c->tx_cnt += (uint32_t)n;
		c->fwd_cnt_sent = c->fwd_cnt;
		return;
	}
	virtq_unpop(vq, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0) {
		/* The host side will send no more; the guest reads to the end and
		 * closes, and its close resets us. */
		c->host_eof = true;
		c->shutdown_flags |= VSOCK_SHUTDOWN_SEND;
		vsock_conn_pend(c, PEND_SHUTDOWN);
		return;
	}
	vsock_conn_close(c, true);
}

/* Writes buffered guest data to the host socket. */
static void conn_flush(struct vsock_conn *c)
{
	while (c->buf_len) {
		/* send, not write: a peer that closed must not raise SIGPIPE in the
		 * embedding application (only vmkit's own threads block it). */
		ssize_t n = send(c->fd, c->buf, c->buf_len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			vsock_conn_close(c, true);
			return;
		}
		memmove(c->buf, c->buf + n, c->buf_len - (uint32_t)n);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (!c->buf_len && c->guest_closed) {
		vsock_conn_close(c, true);
		return;
	}
	if (!c->buf_len && c->guest_sent_all)
		shutdown(c->fd, SHUT_WR);
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
		vsock_conn_pend(c, PEND_CREDIT);
}

/* Guest data for the host socket: straight through while it takes it, the
 * rest into the buffer the guest's credit bounds. */
static void conn_write(struct vsock_conn *c, const struct virtq_elem *e, uint32_t len)
{
	struct virtio_vsock *vs = c->vs;
	size_t done = 0;

	if (c->buf_len + (uint64_t)len > VSOCK_BUF_ALLOC || c->guest_sent_all) {
		vsock_conn_close(c, true); /* beyond the credit we gave, or after its SHUTDOWN */
		return;
	}
	if (!c->buf_len) {
		unsigned k = iov_slice(e->iov, e->nout, VSOCK_HDR_LEN, len, vs->slice, VIRTQ_MAX_IOV);
		ssize_t n;
		do
			n = sendmsg(c->fd, &(struct msghdr){.msg_iov = vs->slice, .msg_iovlen = k},
				    MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			vsock_conn_close(c, true);
			return;
		}
		done = n > 0 ? (size_t)n : 0;
		c->fwd_cnt += (uint32_t)done;
	}
	if (done < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
			vsock_conn_close(c, true);
			return;
		}
		c->buf_len += (uint32_t)iov_copy_from(e->iov, e->nout, VSOCK_HDR_LEN + done,
						      c->buf + c->buf_len, len - done);
	}
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
		vsock_conn_pend(c, PEND_CREDIT);
}

static void tx_packet(struct virtio_vsock *vs, const struct virtq_elem *e)
{
	struct vsock_pkt p;
	struct vsock_conn *c;

	switch (vsock_pkt_parse(e, vs->guest_cid, &p)) {
	case VSOCK_PKT_DROP:
		return;
	case VSOCK_PKT_RESET:
		if (p.op != VSOCK_OP_RST) {
			if ((c = vsock_conn_find(vs, p.src_port, p.dst_port)))
				vsock_conn_close(c, true);
			else
				vsock_orphan_rst(vs, p.dst_port, p.src_port);
		}
		return;
	case VSOCK_PKT_OK:
		break;
	}
	c = vsock_conn_find(vs, p.src_port, p.dst_port);
	if (c && c->state == CONN_CLOSED)
		return; /* our RST is on its way */
	if (!c) {
		if (p.op == VSOCK_OP_REQUEST)
			vsock_host_connect(vs, &p);
		else if (p.op != VSOCK_OP_RST)
			vsock_orphan_rst(vs, p.dst_port, p.src_port);
		return;
	}
	c->peer_buf_alloc = p.buf_alloc;
	c->peer_fwd_cnt = p.fwd_cnt;
	switch (p.op) {
	case VSOCK_OP_REQUEST: /* for a connection that exists */
		vsock_conn_close(c, true);
		return;
	case VSOCK_OP_RESPONSE:
		/* Only to a REQUEST we have sent. */
		if (c->state != CONN_REQUESTED || (c->pend & PEND_REQUEST)) {
			vsock_conn_close(c, true);
			return;
		}
		c->state = CONN_OPEN;
		c->deadline = 0;
		if (!vsock_host_answered(c))
			return;
		break;
	case VSOCK_OP_RST:
		vsock_conn_close(c, false);
		vsock_conn_drop(vs, c);
		return;
	case VSOCK_OP_SHUTDOWN:
		if (p.flags & VSOCK_SHUTDOWN_RCV)
			c->guest_reads_no_more = true;
		if (p.flags & VSOCK_SHUTDOWN_SEND)
			c->guest_sent_all = true;
		if (c->guest_reads_no_more && c->guest_sent_all) {
			/* Closed on the guest's side: what it sent still goes out,
			 * then we answer with the RST it waits for. */
			c->guest_closed = true;
			conn_flush(c);
			if (c->state == CONN_CLOSED)
				return;
			break;
		}
		if (c->guest_sent_all && !c->buf_len)
			shutdown(c->fd, SHUT_WR);
		break;
	case VSOCK_OP_RW:
		if (c->state != CONN_OPEN) {
			vsock_conn_close(c, true);
			return;
		}
		conn_write(c, e, p.len);
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		/* Before the RESPONSE a credit update would be taken for a refusal. */
		if (c->state == CONN_OPEN)
			vsock_conn_pend(c, PEND_CREDIT);
		break;
	default: /* CREDIT_UPDATE: the credit is read from every header above */
		break;
	}
	if (c->state != CONN_CLOSED)
		vsock_conn_watch(c);
}

void vsock_finish(struct virtio_vsock *vs)
{
	struct vsock_out out = vs->out;

	vs->out = (struct vsock_out){0};
	pthread_mutex_unlock(&vs->lock);
	for (unsigned q = 0; q < 3; q++)
		if (out.notify & (1ull << q))
			virtio_notify_queue(&vs->dev, q);
	if (out.broken)
		virtio_set_needs_reset(&vs->dev, out.broken);
}

/* After anything that may have freed receive buffers or credit. */
static void vsock_kick_all(struct virtio_vsock *vs)
{
	vsock_rx_flush(vs);
	for (unsigned i = 0; i < vs->nconns; i++)
		if (vs->conns[i]->state != CONN_CLOSED)
			vsock_conn_watch(vs->conns[i]);
}

static void tx_again(void *ctx);

/* The rest of a busy transmit queue waits for the next turn of the loop,
 * behind every other event: a kick of our own on the queue's ioeventfd,
 * which the transport reads like the guest's. (A posted call would run
 * before the loop waits again, so a guest that keeps the queue full could
 * hold the thread.) Only without a transport (unit tests) is it posted. */
static void tx_later(struct virtio_vsock *vs)
{
	int kfd = virtio_queue_kick_fd(&vs->dev, VSOCK_TXQ);
	uint64_t one = 1;

	if (kfd >= 0 && write(kfd, &one, sizeof(one)) == sizeof(one))
		return;
	if (vs->loop)
		evloop_post(vs->loop, tx_again, vs);
}

static void vsock_queue_notify(void *opaque, unsigned q)
{
	struct virtio_vsock *vs = opaque;

	pthread_mutex_lock(&vs->lock);
	if (!vs->active) {
		vsock_finish(vs);
		return;
	}
	if (q == VSOCK_RXQ)
		vs->rx_starved = false;
	if (q == VSOCK_TXQ) {
		struct virtq *vq = virtio_queue(&vs->dev, VSOCK_TXQ);
		unsigned n = 0;
		int r = 0;
		while (vq && n < vq->size && (r = virtq_pop(vq, &vs->elem)) == 1) {
			tx_packet(vs, &vs->elem);
			virtq_push(vq, vs->elem.head, 0);
			vs->out.notify |= 1ull << VSOCK_TXQ;
			n++;
		}
		if (r < 0)
			vs->out.broken = "virtio-vsock: malformed transmit queue";
		else if (vq && n == vq->size)
			tx_later(vs);
	}
	vsock_kick_all(vs);
	vsock_finish(vs);
}

static void tx_again(void *ctx)
{
	vsock_queue_notify(ctx, VSOCK_TXQ);
}

static void conn_readable(void *ctx, uint32_t events)
{
	struct vsock_conn *c = ctx;
	struct virtio_vsock *vs = c->vs;

	pthread_mutex_lock(&vs->lock);
	if (!vs->active || c->state == CONN_CLOSED) {
		vsock_finish(vs);
		return;
	}
	if (c->state == CONN_LINE) {
		vsock_host_read_line(c);
		if (c->state == CONN_CLOSED)
			vsock_conn_drop(vs, c); /* never known to the guest: no RST owed */
		else
			vsock_conn_watch(c);
		vsock_rx_flush(vs);
		vsock_finish(vs);
		return;
	}
	if (c->buf_len && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		conn_flush(c);
	if (c->state != CONN_CLOSED && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_receive(c);
	/* A closed c is freed once its RST is sent: not touched after that. */
	bool open = c->state != CONN_CLOSED;
	vsock_rx_flush(vs);
	if (vs->rx_starved)
		vsock_kick_all(vs); /* unwatch every input until the guest gives buffers */
	else if (open)
		vsock_conn_watch(c);
	vsock_finish(vs);
}

static void vsock_teardown(void *ctx)
{
	struct virtio_vsock *vs = ctx;

	pthread_mutex_lock(&vs->lock);
	while (vs->dead) {
		struct vsock_conn *c = vs->dead;
		vs->dead = c->next_dead;
		conn_free(c);
	}
	pthread_mutex_unlock(&vs->lock);
}

static void vsock_forget(struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < vs->nconns; i++) {
		struct vsock_conn *c = vs->conns[i];
		/* Closed as far as callbacks go: a host socket's event that comes
		 * before the teardown, even after the driver is back, finds it so. */
		c->state = CONN_CLOSED;
		c->queued = false;
		c->next_dead = vs->dead;
		vs->dead = c;
	}
	vs->nconns = 0;
	vs->pend_head = vs->pend_tail = NULL;
	vs->norphans = 0;
	vs->rx_starved = false;
}

static int vsock_activate(void *opaque)
{
	struct virtio_vsock *vs = opaque;

	if (!vs->loop)
		vs->loop = virtio_io_loop(&vs->dev);
	if (!vs->loop)
		return -EINVAL;
	if (!vs->listening) {
		for (unsigned i = 0; i < vs->nlisteners; i++)
			evloop_add_fd(vs->loop, vs->listeners[i].fd, EPOLLIN, vsock_host_accept,
				      &vs->listeners[i]);
		if (vs->timer_fd >= 0)
			evloop_add_fd(vs->loop, vs->timer_fd, EPOLLIN, vsock_host_tick, vs);
		vs->listening = true;
	}
	pthread_mutex_lock(&vs->lock);
	vs->active = true;
	pthread_mutex_unlock(&vs->lock);
	return 0;
}

/* The driver reset the device: every connection ends (the host sockets are
 * closed; their peers see the end), freed on the I/O thread. */
static void vsock_reset(void *opaque)
{
	struct virtio_vsock *vs = opaque;

	pthread_mutex_lock(&vs->lock);
	vs->active = false;
	vsock_forget(vs);
	bool any = vs->dead != NULL;
	pthread_mutex_unlock(&vs->lock);
	if (any && vs->loop)
		evloop_post(vs->loop, vsock_teardown, vs);
}

static void vsock_config_write(void *opaque, size_t off, unsigned size)
{
	struct virtio_vsock *vs = opaque;

	(void)off;
	(void)size;
	vs->config.guest_cid = htole64(vs->guest_cid); /* read-only */
}

struct virtio_vsock *virtio_vsock_new(const struct vmk_socket_device *cfg,
				      const struct virtio_vsock_hooks *hooks, vmk_error **err)
{
	struct virtio_vsock *vs = calloc(1, sizeof(*vs));

	if (!vs || !(vs->cfg = vmk_socket_device_copy(cfg))) {
		free(vs);
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "socket_device", "socket_device: out of memory");
		return NULL;
	}
	pthread_mutex_init(&vs->lock, NULL);
	if (hooks)
		vs->hooks = *hooks;
	vs->guest_cid = cfg->guest_cid;
	vs->config.guest_cid = htole64(vs->guest_cid);
	vs->next_host_port = VSOCK_FIRST_HOST_PORT;
	vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vs->timer_fd < 0) {
		vmk_set_errno(err, VMK_ERR_SOCKET_DEVICE, "socket_device", errno,
			      "socket_device: cannot make a timer");
		virtio_vsock_free(vs);
		return NULL;
	}
	for (size_t i = 0; i < vs->cfg->nforwards; i++)
		if (vs->cfg->forwards[i].mode == VMK_SOCKET_FORWARD_HOST_TO_GUEST &&
		    !vsock_host_listen(vs, vs->cfg->forwards[i].port, vs->cfg->forwards[i].path, err)) {
			virtio_vsock_free(vs);
			return NULL;
		}
	if (vs->cfg->hybrid_path && !vsock_host_listen(vs, 0, vs->cfg->hybrid_path, err)) {
		virtio_vsock_free(vs);
		return NULL;
	}
	vs->dev = (struct virtio_dev){
	    .name = "virtio-vsock",
	    .device_id = VIRTIO_ID_VSOCK,
	    .pci_class = 0x078000,
	    .num_queues = 3,
	    .queue_max_size = 256,
	    .config = (uint8_t *)&vs->config,
	    .config_size = sizeof(vs->config),
	    .opaque = vs,
	    .config_write = vsock_config_write,
	    .activate = vsock_activate,
	    .queue_notify = vsock_queue_notify,
	    .reset = vsock_reset,
	};
	return vs;
}

struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *vs)
{
	return &vs->dev;
}

/* After the I/O thread stopped: nothing runs callbacks any more. */
void virtio_vsock_free(struct virtio_vsock *vs)
{
	if (!vs)
		return;
	vsock_forget(vs);
	vs->loop = NULL; /* stopped: no watches to remove */
	while (vs->dead) {
		struct vsock_conn *c = vs->dead;
		vs->dead = c->next_dead;
		conn_free(c);
	}
	for (unsigned i = 0; i < vs->nlisteners; i++) {
		close(vs->listeners[i].fd);
		unlink(vs->listeners[i].path);
	}
	if (vs->timer_fd >= 0)
		close(vs->timer_fd);
	vmk_socket_device_free(vs->cfg);
	pthread_mutex_destroy(&vs->lock);
	free(vs);
}
