/* Constructors of the virtio devices the machine builds from the
 * configuration. Each embeds a struct virtio_dev the PCI transport drives.
 * new() runs on the VM's event thread before vCPUs start; free() after the
 * I/O thread has stopped. */
#ifndef VMK_VIRTIO_DEVICES_H
#define VMK_VIRTIO_DEVICES_H

#include "config/config_priv.h"
#include "virtio/virtio.h"
#include <vmkit/devices.h>
#include <vmkit/error.h>

/* virtio-blk (blk.c) over a storage attachment (src/attach/). */
struct virtio_blk;
struct virtio_blk *virtio_blk_new(const struct vmk_storage_device *cfg, unsigned index, vmk_error **err);
struct virtio_dev *virtio_blk_dev(struct virtio_blk *b);
/* Swaps the media (NULL ejects) of a running device; called on the VM's
 * event thread while vCPUs and the I/O thread run. */
bool virtio_blk_change_media(struct virtio_blk *b, const struct vmk_storage_attachment *a, vmk_error **err);
void virtio_blk_free(struct virtio_blk *b);

/* virtio-net (net.c) over a network attachment. disconnected runs on the
 * I/O thread when the attachment goes away (peer closed, TAP removed). */
struct virtio_net;
struct virtio_net_hooks {
	void (*disconnected)(void *ctx, unsigned index);
	void *ctx;
};
struct virtio_net *virtio_net_new(const struct vmk_network_device *cfg, unsigned index,
				  const struct virtio_net_hooks *hooks, vmk_error **err);
struct virtio_dev *virtio_net_dev(struct virtio_net *nd);
/* After the transport exists: the backend starts delivering frames. */
int virtio_net_start(struct virtio_net *nd);
/* Before the I/O thread ends: the backend stops watching its fds. */
void virtio_net_stop(struct virtio_net *nd);
/* Run time (VM event thread): opens a (NULL: the cable is pulled), checks it
 * fits what the guest's driver already read (MTU, offloads), then on the
 * I/O thread drops the old backend (and its vhost-net) with the frames in
 * flight and plugs the new one in; the guest sees carrier go down and, with
 * a, come back. The disconnected hook is not called for it. */
bool virtio_net_change_attachment(struct virtio_net *nd, const struct vmk_network_attachment *a,
				  vmk_error **err);
void virtio_net_free(struct virtio_net *nd);

/* virtio-rng (rng.c): host getrandom(). */
struct virtio_rng;
struct virtio_rng *virtio_rng_new(vmk_error **err);
struct virtio_dev *virtio_rng_dev(struct virtio_rng *r);
void virtio_rng_free(struct virtio_rng *r);

/* virtio-console (console.c): one port per fd pair; port 0 is hvc0. */
struct virtio_console;
struct virtio_console *virtio_console_new(const int (*fds)[2], unsigned nports, vmk_error **err);
struct virtio_dev *virtio_console_dev(struct virtio_console *c);
void virtio_console_free(struct virtio_console *c);

/* virtio-balloon (balloon.c), traditional, with the statistics queue. */
struct virtio_balloon;
struct virtio_balloon *virtio_balloon_new(uint64_t mem_size, vmk_error **err);
struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b);
bool virtio_balloon_set_target(struct virtio_balloon *b, uint64_t guest_bytes, vmk_error **err);
bool virtio_balloon_get_stats(struct virtio_balloon *b, vmk_balloon_stats *st, vmk_error **err);
void virtio_balloon_free(struct virtio_balloon *b);

/* virtio-vsock (vsock.c): host–guest stream sockets, joined to the unix
 * sockets of the configured forwards. Listening sockets are made here. */
struct virtio_vsock;
/* How the device reaches the application's run-time listeners and connects
 * (the owner, vm/). Called on the I/O thread (connected: also on the thread
 * that frees the device) with the device's lock held: they must only look
 * up or hand over (post), never block or call back into the device. */
struct virtio_vsock_hooks {
	void *ctx;
	/* Whether an application listens on host port `port`. */
	bool (*has_listener)(void *ctx, uint32_t port);
	/* An id no accept or connect of this VM has had. */
	uint64_t (*new_id)(void *ctx);
	/* A guest connected to a listened port: fd is the application's end.
	 * The answer comes through virtio_vsock_accept_done(id). False: fd
	 * could not be handed over (still the device's). */
	bool (*accept)(void *ctx, uint64_t id, uint32_t port, uint32_t guest_port, int fd);
	/* The end of virtio_vsock_connect(id): fd >= 0, or -1 and an errno
	 * (ECONNRESET, ETIMEDOUT, ENOTCONN: no driver). False: fd could not be
	 * handed over (still the device's). */
	bool (*connected)(void *ctx, uint64_t id, int fd, int error);
};
struct virtio_vsock *virtio_vsock_new(const struct vmk_socket_device *cfg,
				      const struct virtio_vsock_hooks *hooks, vmk_error **err);
/* From the owner's thread; the work runs on the I/O thread. False: out of
 * memory (connected is not called). */
bool virtio_vsock_connect(struct virtio_vsock *vs, uint64_t id, uint32_t guest_port);
void virtio_vsock_accept_done(struct virtio_vsock *vs, uint64_t id, bool accept);
struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *vs);
void virtio_vsock_free(struct virtio_vsock *vs);

/* virtio-input (input.c): a keyboard, screen pointer or mouse. Reports are
 * queued from any thread and delivered on the I/O thread. */
#define INPUT_REPORT_MAX 8
struct input_ev {
	uint16_t type, code;
	int32_t value;
};
struct input_report {
	unsigned n;
	struct input_ev ev[INPUT_REPORT_MAX];
};
struct virtio_input;
struct virtio_input *virtio_input_new(const struct vmk_input_device *cfg, vmk_error **err);
struct virtio_dev *virtio_input_dev(struct virtio_input *in);
/* Queues r and SYN_REPORT; VMK_ERR_LIMIT_EXCEEDED when the guest lags. */
bool virtio_input_send(struct virtio_input *in, const struct input_report *r, vmk_error **err);
vmk_input_kind virtio_input_kind(const struct virtio_input *in);
void virtio_input_screen(const struct virtio_input *in, uint32_t *w, uint32_t *h);
/* Whether a driver runs it (DRIVER_OK, no reset since). */
bool virtio_input_ready(struct virtio_input *in);
/* The guest's LEDs: bit 0 NumLock, 1 CapsLock, 2 ScrollLock. */
uint8_t virtio_input_leds(struct virtio_input *in);
void virtio_input_free(struct virtio_input *in);

/* virtio-fs (fs.c): a shared directory served by its own thread. failed runs
 * once per driver session, on whatever thread found the problem (it must
 * only hand the news over), when the device stops serving: a malformed
 * queue, or no thread for the server. */
struct virtio_fs;
struct virtio_fs_hooks {
	void (*failed)(void *ctx, unsigned index, const char *why);
	void *ctx;
};
struct virtio_fs *virtio_fs_new(const struct vmk_fs_device *cfg, unsigned index,
				const struct virtio_fs_hooks *hooks, vmk_error **err);
struct virtio_dev *virtio_fs_dev(struct virtio_fs *f);
void virtio_fs_free(struct virtio_fs *f);

struct gpu_rect;
/* virtio-gpu (gpu.c, gpu_res.c, gpu_cmd.c, gpu_edid.c): 2D, scanouts the
 * host copies frames of. Frames and reconfigure: any thread. */
struct virtio_gpu;
/* update: a scanout changed (damage in its pixels) or, with NULL, the
 * cursor; on the I/O thread or, for a reset, the vCPU that reset it. */
struct virtio_gpu_hooks {
	void (*update)(void *ctx, unsigned index, unsigned scanout, const struct gpu_rect *damage);
	void *ctx;
};
struct virtio_gpu *virtio_gpu_new(const struct vmk_graphics_device *cfg, const struct gmem *mem,
				  unsigned index, const struct virtio_gpu_hooks *hooks, vmk_error **err);
/* After the transport exists: VGA damage tracking starts. */
bool virtio_gpu_start(struct virtio_gpu *g);
bool virtio_gpu_copy_cursor(struct virtio_gpu *g, vmk_cursor **out, vmk_error **err);
struct virtio_dev *virtio_gpu_dev(struct virtio_gpu *g);
unsigned virtio_gpu_scanouts(const struct virtio_gpu *g);
bool virtio_gpu_copy_frame(struct virtio_gpu *g, unsigned scanout, vmk_frame **out, vmk_error **err);
/* vmk_vm_copy_frame_rect: rect (NULL: all) into the caller's frame when its size is the scanout's. */
bool virtio_gpu_copy_frame_rect(struct virtio_gpu *g, unsigned scanout, const vmk_rect *rect, vmk_frame *into,
				vmk_error **err);
bool virtio_gpu_reconfigure(struct virtio_gpu *g, unsigned scanout, uint32_t width, uint32_t height,
			    vmk_error **err);
void virtio_gpu_free(struct virtio_gpu *g);

#endif
