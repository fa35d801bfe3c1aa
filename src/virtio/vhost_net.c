/* vhost-net data path for virtio-net on a TAP (see vhost_net.h). The kernel
 * reads the rings the guest owns; everything it is given is checked first
 * the same way queue.c checks it (the areas inside RAM, aligned), and the
 * memory table holds only guest RAM, so vhost can reach nothing else of
 * this process. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "virtio/net.h"
#include "virtio/vhost_net.h"

/* Ring features the transport always offers: vhost must do all of them. */
#define RING_FEATURES                                                                                        \
	(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_EVENT_IDX | 1ull << VIRTIO_F_INDIRECT_DESC |     \
	 1ull << VIRTIO_NET_F_MRG_RXBUF)

struct vhost_vq {
	struct vhost_net *v;
	unsigned index;
	int own_call; /* completions while the vector cannot take them directly */
	bool own_watched;
	int want; /* irqfd to use, -1: own_call (under m) */
	int used; /* what vhost was given, -2: nothing yet */
	int base; /* the avail index vhost reached when stopped, -1: unknown */
};

struct vhost_net {
	struct virtio_dev *dev;
	int fd; /* /dev/vhost-net */
	int tap_fd;
	pthread_mutex_t m; /* running, want, used: vCPU threads (irq_changed) vs the I/O thread */
	bool running;
	struct vhost_vq vq[VHOST_NET_QUEUES];
};

struct vhost_memory *vhost_mem_table(const struct gmem *m)
{
	struct vhost_memory *t = calloc(1, sizeof(*t) + m->nregions * sizeof(struct vhost_memory_region));

	if (!t)
		return NULL;
	for (unsigned i = 0; i < m->nregions; i++)
		t->regions[i] = (struct vhost_memory_region){
		    .guest_phys_addr = m->regions[i].gpa,
		    .memory_size = m->regions[i].size,
		    .userspace_addr = (uint64_t)(uintptr_t)m->regions[i].host,
		};
	t->nregions = m->nregions;
	return t;
}

/* Whether host range [p, p+len) lies wholly inside one RAM region. */
static bool in_ram(const struct gmem *m, const volatile uint8_t *p, uint64_t len)
{
	uintptr_t a = (uintptr_t)p;

	for (unsigned i = 0; p && i < m->nregions; i++) {
		uintptr_t h = (uintptr_t)m->regions[i].host;
		if (a >= h && a - h <= m->regions[i].size && len <= m->regions[i].size - (a - h))
			return true;
	}
	return false;
}

int vhost_ring_addr(const struct gmem *m, const struct virtq *q, unsigned index, struct vhost_vring_addr *a)
{
	uint64_t n = q->size;

	if (n == 0 || n > 32768 || (n & (n - 1)))
		return -EINVAL;
	/* Sizes include used_event / avail_event: vhost touches them with EVENT_IDX. */
	if (((uintptr_t)q->desc & 15) || ((uintptr_t)q->avail & 1) || ((uintptr_t)q->used & 3) ||
	    !in_ram(m, q->desc, 16 * n) || !in_ram(m, q->avail, 6 + 2 * n) || !in_ram(m, q->used, 6 + 8 * n))
		return -EINVAL;
	*a = (struct vhost_vring_addr){
	    .index = index,
	    .desc_user_addr = (uint64_t)(uintptr_t)q->desc,
	    .avail_user_addr = (uint64_t)(uintptr_t)q->avail,
	    .used_user_addr = (uint64_t)(uintptr_t)q->used,
	};
	return 0;
}

/* vhost completed work while the vector was masked (or had no irqfd). */
static void own_call_cb(void *ctx, uint32_t events)
{
	struct vhost_vq *q = ctx;
	uint64_t n;

	(void)events;
	if (read(q->own_call, &n, sizeof(n)) == sizeof(n))
		virtio_raise_queue(q->v->dev, q->index);
}

struct vhost_net *vhost_net_open(struct virtio_dev *dev, int tap_fd, char *why, size_t whylen)
{
	struct vhost_net *v = calloc(1, sizeof(*v));
	uint64_t f = 0;

	if (!v) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	v->dev = dev;
	v->tap_fd = tap_fd;
	pthread_mutex_init(&v->m, NULL);
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		v->vq[i] = (struct vhost_vq){.v = v, .index = i, .want = -1, .used = -2};
		v->vq[i].own_call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		snprintf(why, whylen, "cannot open /dev/vhost-net: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(v->fd, VHOST_SET_OWNER) < 0 || ioctl(v->fd, VHOST_GET_FEATURES, &f) < 0) {
		snprintf(why, whylen, "/dev/vhost-net: %s", strerror(errno));
		goto fail;
	}
	if ((f & RING_FEATURES) != RING_FEATURES) {
		snprintf(why, whylen, "/dev/vhost-net lacks ring features (has %#llx)",
			 (unsigned long long)f);
		goto fail;
	}
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		struct vhost_vq *q = &v->vq[i];
		if (q->own_call < 0 ||
		    evloop_add_fd(virtio_io_loop(dev), q->own_call, EPOLLIN, own_call_cb, q) != 0) {
			snprintf(why, whylen, "cannot watch an eventfd");
			goto fail;
		}
		q->own_watched = true;
	}
	return v;
fail:
	vhost_net_close(v);
	return NULL;
}

/* m held. */
static int set_call(struct vhost_net *v, struct vhost_vq *q)
{
	struct vhost_vring_file f = {.index = q->index, .fd = q->want >= 0 ? q->want : q->own_call};

	if (q->used == f.fd)
		return 0;
	if (ioctl(v->fd, VHOST_SET_VRING_CALL, &f) < 0)
		return -errno;
	q->used = f.fd;
	return 0;
}

void vhost_net_irq_changed(struct vhost_net *v)
{
	pthread_mutex_lock(&v->m);
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		v->vq[i].want = virtio_queue_irqfd(v->dev, i);
		/* A failure leaves the old route: the interrupt still arrives, at
		 * worst while masked, which a driver tolerates. */
		if (v->running)
			(void)set_call(v, &v->vq[i]);
	}
	pthread_mutex_unlock(&v->m);
}

static int fail(char *why, size_t whylen, const char *what, unsigned q)
{
	int e = errno;

	snprintf(why, whylen, "%s (queue %u): %s", what, q, strerror(e));
	return -e;
}

/* m held. Stops every queue; vhost forgets the TAP and our eventfds. */
static void stop_locked(struct vhost_net *v)
{
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		struct vhost_vring_file unbind = {.index = i, .fd = VHOST_FILE_UNBIND};
		struct vhost_vring_state st = {.index = i};

		ioctl(v->fd, VHOST_NET_SET_BACKEND, &unbind);
		/* The index vhost reached: after a driver reset it is only read
		 * to quiesce the queue; a device that keeps running resumes
		 * there (vhost_net_hand_back). */
		v->vq[i].base = ioctl(v->fd, VHOST_GET_VRING_BASE, &st) < 0 ? -1 : (int)(uint16_t)st.num;
		ioctl(v->fd, VHOST_SET_VRING_KICK, &unbind);
		ioctl(v->fd, VHOST_SET_VRING_CALL, &unbind);
		v->vq[i].used = -2;
	}
	v->running = false;
}

int vhost_net_start(struct vhost_net *v, uint64_t features, char *why, size_t whylen)
{
	const struct gmem *mem = virtio_mem(v->dev);
	struct vhost_memory *table = NULL;
	uint64_t f = features & RING_FEATURES;
	int hdr = NET_HDR_LEN, r = 0;
	unsigned i = 0;

	pthread_mutex_lock(&v->m);
	if (v->running)
		goto out;
	/* VERSION_1: always the 12-byte header, which the TAP adds and strips
	 * (vhost itself then adds none). */
	if (ioctl(v->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		r = fail(why, whylen, "TUNSETVNETHDRSZ", 0);
		goto out;
	}
	if (ioctl(v->fd, VHOST_SET_FEATURES, &f) < 0) {
		r = fail(why, whylen, "VHOST_SET_FEATURES", 0);
		goto out;
	}
	table = vhost_mem_table(mem);
	if (!table || ioctl(v->fd, VHOST_SET_MEM_TABLE, table) < 0) {
		r = fail(why, whylen, "VHOST_SET_MEM_TABLE", 0);
		goto out;
	}
	for (i = 0; i < VHOST_NET_QUEUES; i++) {
		struct virtq *q = virtio_queue(v->dev, i);
		struct vhost_vring_addr addr;
		struct vhost_vring_state num, base;
		struct vhost_vring_file kick = {.index = i, .fd = virtio_queue_kick_fd(v->dev, i)};

		if (!q || vhost_ring_addr(mem, q, i, &addr) < 0) {
			errno = EINVAL;
			r = fail(why, whylen, "queue not enabled or outside RAM", i);
			goto undo;
		}
		num = (struct vhost_vring_state){.index = i, .num = q->size};
		/* The userspace path may have served the queue until now. */
		base = (struct vhost_vring_state){.index = i, .num = q->last_avail};
		if (ioctl(v->fd, VHOST_SET_VRING_NUM, &num) < 0 ||
		    ioctl(v->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
		    ioctl(v->fd, VHOST_SET_VRING_ADDR, &addr) < 0) {
			r = fail(why, whylen, "vring set-up", i);
			goto undo;
		}
		if (ioctl(v->fd, VHOST_SET_VRING_KICK, &kick) < 0 || (r = set_call(v, &v->vq[i])) < 0) {
			errno = r ? -r : errno;
			r = fail(why, whylen, "kick/call eventfds", i);
			goto undo;
		}
	}
	for (i = 0; i < VHOST_NET_QUEUES; i++) {
		struct vhost_vring_file be = {.index = i, .fd = v->tap_fd};
		if (ioctl(v->fd, VHOST_NET_SET_BACKEND, &be) < 0) {
			r = fail(why, whylen, "VHOST_NET_SET_BACKEND", i);
			goto undo;
		}
	}
	v->running = true;
	goto out;
undo:
	stop_locked(v);
out:
	pthread_mutex_unlock(&v->m);
	free(table);
	return r;
}

void vhost_net_stop(struct vhost_net *v)
{
	pthread_mutex_lock(&v->m);
	if (v->running)
		stop_locked(v);
	pthread_mutex_unlock(&v->m);
}

void vhost_net_hand_back(struct vhost_net *v)
{
	bool was;

	pthread_mutex_lock(&v->m);
	was = v->running;
	if (was)
		stop_locked(v);
	pthread_mutex_unlock(&v->m);
	if (!was)
		return;
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		struct virtq *q = virtio_queue(v->dev, i);

		if (q && v->vq[i].base < 0) {
			virtio_set_needs_reset(v->dev, "vhost-net: lost the ring position");
			continue;
		}
		if (q)
			virtq_resync(q, (uint16_t)v->vq[i].base);
		virtio_queue_set_external(v->dev, i, false);
		virtio_raise_queue(v->dev, i);
	}
}

bool vhost_net_running(const struct vhost_net *v)
{
	return v && v->running;
}

static void unwatch(struct vhost_net *v)
{
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		if (v->vq[i].own_watched)
			evloop_del_fd(virtio_io_loop(v->dev), v->vq[i].own_call);
		v->vq[i].own_watched = false;
	}
}

void vhost_net_shutdown(struct vhost_net *v)
{
	vhost_net_stop(v);
	unwatch(v);
}

void vhost_net_close(struct vhost_net *v)
{
	if (!v)
		return;
	vhost_net_stop(v);
	unwatch(v);
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		if (v->vq[i].own_call >= 0)
			close(v->vq[i].own_call);
	}
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->m);
	free(v);
}
