/* One thread per VM running an epoll loop: host-side device I/O (serial
 * input) and the VM's lifecycle commands and observer callbacks all run
 * here, one at a time, so lifecycle state has a single writer. */
#ifndef VMK_EVENTLOOP_H
#define VMK_EVENTLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct evloop;

typedef void (*evloop_fd_cb)(void *ctx, uint32_t events);
typedef void (*evloop_fn)(void *ctx);

struct evloop *evloop_new(void);
/* Stops the thread (after the queued work) and frees the loop. */
void evloop_free(struct evloop *l);
bool evloop_on_thread(const struct evloop *l);
/* Names the loop's thread (at most 15 bytes; seen in /proc/PID/task/TID/comm, top -H). */
void evloop_set_name(struct evloop *l, const char *name);

/* Watches fd for events (EPOLLIN...). Safe from any thread; the callback
 * runs on the loop thread. */
int evloop_add_fd(struct evloop *l, int fd, uint32_t events, evloop_fd_cb cb, void *ctx);
int evloop_mod_fd(struct evloop *l, int fd, uint32_t events);
/* After this returns on the loop thread, cb will not be called for fd. */
int evloop_del_fd(struct evloop *l, int fd);

/* Runs fn(ctx) on the loop thread, asynchronously. Returns 0 or -ENOMEM. */
int evloop_post(struct evloop *l, evloop_fn fn, void *ctx);
/* Runs fn(ctx) on the loop thread and waits for it (directly if already
 * on the loop thread). */
void evloop_call(struct evloop *l, evloop_fn fn, void *ctx);

#endif
