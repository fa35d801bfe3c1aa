/* vhost-net: the kernel moves a virtio-net device's receive and transmit
 * queues between guest memory and a TAP device, so frames never reach the
 * VMM. The guest's queue notifications (KVM ioeventfds) wake the kernel's
 * vhost worker directly and its completions raise the MSI-X vector through
 * the vector's irqfd; while a vector is masked they go to an eventfd of
 * ours that marks it pending instead. The control queue stays with net.c.
 * Protocol: linux/vhost.h (drivers/vhost/net.c). */
#ifndef VMK_VHOST_NET_H
#define VMK_VHOST_NET_H

#include "virtio/virtio.h"
#include <linux/vhost.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The receive (0) and transmit (1) queues vhost serves. */
#define VHOST_NET_QUEUES 2

struct vhost_net;

/* Opens /dev/vhost-net for dev's queues 0 and 1 on the TAP fd, after the
 * transport exists: takes ownership (VHOST_SET_OWNER) and checks that the
 * kernel handles every ring feature the transport offers. NULL when it
 * cannot; why then says why (for one log line). */
struct vhost_net *vhost_net_open(struct virtio_dev *dev, int tap_fd, char *why, size_t whylen);
/* The interrupt routes may have changed (transport lock held: irq_changed
 * or activate): each queue's completions go to its irqfd or to our own
 * eventfd, now if running, else when started. */
void vhost_net_irq_changed(struct vhost_net *v);
/* On the I/O thread, queues enabled and DRIVER_OK: features, memory table,
 * rings (checked against guest RAM), kick/call fds, then the TAP as
 * backend. The caller has stopped reading the TAP and the queues' kicks.
 * Returns 0, or -errno with why filled; nothing is left running then. */
int vhost_net_start(struct vhost_net *v, uint64_t features, char *why, size_t whylen);
/* Detaches the TAP and the eventfds (I/O thread); the rings are the
 * guest's again. No-op when not running. */
void vhost_net_stop(struct vhost_net *v);
/* For a device that keeps running while its backend changes (I/O thread):
 * stops vhost and gives the rings back to the I/O thread where vhost left
 * them, kicks watched by the transport again; each queue is interrupted
 * once, since a completion may have been on its way through our eventfd.
 * No-op when not running. */
void vhost_net_hand_back(struct vhost_net *v);
bool vhost_net_running(const struct vhost_net *v);
/* Stops and lets go of the I/O thread (on it, before it ends). */
void vhost_net_shutdown(struct vhost_net *v);
/* Closes /dev/vhost-net and frees; after vhost_net_shutdown once the I/O
 * thread has run (it is not touched then). */
void vhost_net_close(struct vhost_net *v);

/* Pure helpers (unit-tested without /dev/vhost-net). */
/* VHOST_SET_MEM_TABLE's argument for guest RAM: one entry per region,
 * guest-physical to this process's address. malloc'd; NULL without memory. */
struct vhost_memory *vhost_mem_table(const struct gmem *m);
/* VHOST_SET_VRING_ADDR's argument for an enabled queue: the host addresses
 * of its three areas, each checked to lie wholly inside one RAM region
 * (event-index words included) and aligned as virtio 1.2 §2.7 requires.
 * Returns 0 or -EINVAL. */
int vhost_ring_addr(const struct gmem *m, const struct virtq *q, unsigned index, struct vhost_vring_addr *a);

#endif
