/* virtio-fs (virtio 1.2 §5.11): a high-priority queue (FORGET, INTERRUPT)
 * and one request queue carrying FUSE requests, served by the shared
 * directory's FUSE server (src/attach/fs_server.c).
 *
 * File system calls can block for as long as the host's disk or network
 * file system takes, so they never run on a vCPU or on the machine's I/O
 * thread: the I/O thread only notes the kick, and a thread of the device's
 * own pops and serves requests. A driver reset stops that thread (between
 * two requests) before the queues go away. No DAX window: data moves
 * through the queues, so the host's copy of a file is the only one. */
#include "attach/fs_server.h"
#include "util/error_priv.h"
#include "virtio/devices.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_ID_FS	 26
#define FS_QUEUE_HIPRIO	 0
#define FS_QUEUE_REQUEST 1
#define FS_NUM_QUEUES	 2

struct virtio_fs_config {
	uint8_t tag[VMK_FS_TAG_MAX];
	uint32_t num_request_queues; /* little-endian, as x86 */
} __attribute__((packed));

struct virtio_fs {
	struct virtio_dev dev;
	struct virtio_fs_config config;
	struct fs_server *srv;
	unsigned index;
	struct virtio_fs_hooks hooks;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running;	 /* the thread exists (lock) */
	unsigned kicked; /* queues kicked since the thread last looked (lock) */
	bool stop;	 /* the thread must end (lock; read unlocked between requests) */
	bool failed;	 /* reported once per driver session */

	struct virtq_elem elem; /* only the device's thread pops */
};

static void report(struct virtio_fs *f, const char *why)
{
	virtio_set_needs_reset(&f->dev, why);
	if (!f->failed && f->hooks.failed)
		f->hooks.failed(f->hooks.ctx, f->index, why);
	f->failed = true;
}

/* Serves q until it is empty or the device is being reset. */
static void serve(struct virtio_fs *f, unsigned q)
{
	struct virtq *vq = virtio_queue(&f->dev, q);
	unsigned pushed = 0;
	int ret = 0;

	if (!vq)
		return;
	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED) && (ret = virtq_pop(vq, &f->elem)) == 1) {
		struct virtq_elem *e = &f->elem;
		size_t n = fs_server_handle(f->srv, e->iov, e->nout, e->iov + e->nout, e->nin);
		virtq_push(vq, e->head, (uint32_t)n);
		/* The guest waits on each reply: tell it now, not after the batch. */
		virtio_notify_queue(&f->dev, q);
		pushed++;
	}
	if (ret < 0)
		report(f, q == FS_QUEUE_HIPRIO ? "virtio-fs: malformed high-priority queue"
					       : "virtio-fs: malformed request queue");
	(void)pushed;
}

static void *fs_thread(void *arg)
{
	struct virtio_fs *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->kicked && !f->stop)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->stop)
			break;
		unsigned k = f->kicked;
		f->kicked = 0;
		pthread_mutex_unlock(&f->lock);
		/* FORGETs first: they free what the requests may need. */
		if (k & (1u << FS_QUEUE_HIPRIO))
			serve(f, FS_QUEUE_HIPRIO);
		if (k & (1u << FS_QUEUE_REQUEST))
			serve(f, FS_QUEUE_REQUEST);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* I/O thread: a kick only wakes the device's thread. */
static void fs_queue_notify(void *opaque, unsigned q)
{
	struct virtio_fs *f = opaque;

	if (q >= FS_NUM_QUEUES)
		return;
	pthread_mutex_lock(&f->lock);
	f->kicked |= 1u << q;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static int fs_activate(void *opaque)
{
	struct virtio_fs *f = opaque;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	if (!f->running) {
		f->stop = false;
		/* Requests published before DRIVER_OK are served too. */
		f->kicked = (1u << FS_QUEUE_HIPRIO) | (1u << FS_QUEUE_REQUEST);
		int e = pthread_create(&f->thread, NULL, fs_thread, f);
		if (e == 0) {
			f->running = true;
		} else {
			ret = -1;
		}
	}
	pthread_mutex_unlock(&f->lock);
	if (ret && !f->failed && f->hooks.failed) {
		f->failed = true;
		f->hooks.failed(f->hooks.ctx, f->index, "virtio-fs: cannot start the file server thread");
	}
	return ret;
}

static void stop_thread(struct virtio_fs *f)
{
	pthread_mutex_lock(&f->lock);
	bool running = f->running;
	f->stop = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	if (running)
		pthread_join(f->thread, NULL);
	pthread_mutex_lock(&f->lock);
	f->running = false;
	f->stop = false;
	f->kicked = 0;
	pthread_mutex_unlock(&f->lock);
}

/* I/O thread, driver reset: the thread ends after the request it serves,
 * then the server forgets the driver's inodes and open files. */
static void fs_reset(void *opaque)
{
	struct virtio_fs *f = opaque;

	stop_thread(f);
	fs_server_reset(f->srv);
	f->failed = false;
}

struct virtio_fs *virtio_fs_new(const struct vmk_fs_device *cfg, unsigned index,
				const struct virtio_fs_hooks *hooks, vmk_error **err)
{
	struct virtio_fs *f = calloc(1, sizeof(*f));

	if (!f) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "fs_devices", "fs_devices: out of memory");
		return NULL;
	}
	if (!(f->srv = fs_server_new(cfg, err))) {
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->index = index;
	if (hooks)
		f->hooks = *hooks;
	/* The tag field is not NUL-terminated when the tag fills it. */
	memcpy(f->config.tag, cfg->tag, strnlen(cfg->tag, sizeof(f->config.tag)));
	f->config.num_request_queues = 1;
	f->dev = (struct virtio_dev){
	    .name = "virtio-fs",
	    .device_id = VIRTIO_ID_FS,
	    .pci_class = 0x018000, /* mass storage, other */
	    .num_queues = FS_NUM_QUEUES,
	    .queue_max_size = 1024,
	    .config = (uint8_t *)&f->config,
	    .config_size = sizeof(f->config),
	    .opaque = f,
	    .activate = fs_activate,
	    .queue_notify = fs_queue_notify,
	    .reset = fs_reset,
	};
	return f;
}

struct virtio_dev *virtio_fs_dev(struct virtio_fs *f)
{
	return &f->dev;
}

void virtio_fs_free(struct virtio_fs *f)
{
	if (!f)
		return;
	stop_thread(f);
	fs_server_free(f->srv);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
}
