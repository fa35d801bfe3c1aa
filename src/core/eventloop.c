/* The per-VM event thread: epoll over device fds plus a work queue. */
#include "core/eventloop.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Room for every host socket of a virtio-vsock device (512) and the rest. */
#define EVLOOP_MAX_WATCHES 1024

struct watch {
	int fd;
	evloop_fd_cb cb;
	void *ctx;
	bool used;
};

struct work {
	struct work *next;
	evloop_fn fn;
	void *ctx;
	/* Set for evloop_call: the caller waits on done. */
	bool *done;
};

struct evloop {
	pthread_t thread;
	int epfd;
	int wakefd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work *head, *tail;
	bool quit;
	struct watch watches[EVLOOP_MAX_WATCHES];
};

static void evloop_run_work(struct evloop *l)
{
	for (;;) {
		pthread_mutex_lock(&l->lock);
		struct work *w = l->head;
		if (w) {
			l->head = w->next;
			if (!l->head)
				l->tail = NULL;
		}
		pthread_mutex_unlock(&l->lock);
		if (!w)
			return;
		w->fn(w->ctx);
		if (w->done) {
			pthread_mutex_lock(&l->lock);
			*w->done = true;
			pthread_cond_broadcast(&l->cond);
			pthread_mutex_unlock(&l->lock);
		} else {
			free(w);
		}
	}
}

static void *evloop_thread(void *arg)
{
	struct evloop *l = arg;
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(l->epfd, evs, 16, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == UINT64_MAX) {
				uint64_t v;
				(void)!read(l->wakefd, &v, sizeof(v));
				continue;
			}
			unsigned idx = (unsigned)evs[i].data.u64;
			pthread_mutex_lock(&l->lock);
			struct watch w = l->watches[idx];
			pthread_mutex_unlock(&l->lock);
			/* A watch removed earlier in this batch must not fire. */
			if (w.used)
				w.cb(w.ctx, evs[i].events);
		}
		evloop_run_work(l);
		pthread_mutex_lock(&l->lock);
		bool quit = l->quit && !l->head;
		pthread_mutex_unlock(&l->lock);
		if (quit)
			break;
	}
	return NULL;
}

static void evloop_wake(struct evloop *l)
{
	uint64_t one = 1;
	(void)!write(l->wakefd, &one, sizeof(one));
}

void evloop_set_name(struct evloop *l, const char *name)
{
	pthread_setname_np(l->thread, name);
}

struct evloop *evloop_new(void)
{
	struct evloop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wakefd < 0)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
		goto fail;
	if (pthread_create(&l->thread, NULL, evloop_thread, l) != 0)
		goto fail;
	return l;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return NULL;
}

void evloop_free(struct evloop *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->quit = true;
	pthread_mutex_unlock(&l->lock);
	evloop_wake(l);
	pthread_join(l->thread, NULL);
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
}

bool evloop_on_thread(const struct evloop *l)
{
	return pthread_equal(pthread_self(), l->thread);
}

int evloop_add_fd(struct evloop *l, int fd, uint32_t events, evloop_fd_cb cb, void *ctx)
{
	pthread_mutex_lock(&l->lock);
	int idx = -1;
	for (int i = 0; i < EVLOOP_MAX_WATCHES; i++) {
		if (!l->watches[i].used) {
			idx = i;
			break;
		}
	}
	if (idx < 0) {
		pthread_mutex_unlock(&l->lock);
		return -ENOSPC;
	}
	l->watches[idx] = (struct watch){.fd = fd, .cb = cb, .ctx = ctx, .used = true};
	struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)idx};
	int r = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
	if (r < 0) {
		r = -errno;
		l->watches[idx].used = false;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

static int evloop_find(struct evloop *l, int fd)
{
	for (int i = 0; i < EVLOOP_MAX_WATCHES; i++)
		if (l->watches[i].used && l->watches[i].fd == fd)
			return i;
	return -1;
}

int evloop_mod_fd(struct evloop *l, int fd, uint32_t events)
{
	pthread_mutex_lock(&l->lock);
	int idx = evloop_find(l, fd), r = -ENOENT;
	if (idx >= 0) {
		struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)idx};
		r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int evloop_del_fd(struct evloop *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	int idx = evloop_find(l, fd), r = -ENOENT;
	if (idx >= 0) {
		l->watches[idx].used = false;
		r = epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

static void evloop_enqueue(struct evloop *l, struct work *w)
{
	pthread_mutex_lock(&l->lock);
	if (l->tail)
		l->tail->next = w;
	else
		l->head = w;
	l->tail = w;
	pthread_mutex_unlock(&l->lock);
	evloop_wake(l);
}

int evloop_post(struct evloop *l, evloop_fn fn, void *ctx)
{
	struct work *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->ctx = ctx;
	evloop_enqueue(l, w);
	return 0;
}

void evloop_call(struct evloop *l, evloop_fn fn, void *ctx)
{
	if (evloop_on_thread(l)) {
		fn(ctx);
		return;
	}
	bool done = false;
	struct work w = {.fn = fn, .ctx = ctx, .done = &done};
	evloop_enqueue(l, &w);
	pthread_mutex_lock(&l->lock);
	while (!done)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
}
