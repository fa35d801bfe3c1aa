/* virtio-console control-queue handling, exposed for unit tests and
 * fuzzers. */
#ifndef VMK_VIRTIO_CONSOLE_H
#define VMK_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

struct virtio_console;

#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* Control events (§5.3.6.2). */
#define VIRTIO_CONSOLE_DEVICE_READY 0
#define VIRTIO_CONSOLE_PORT_ADD	    1
#define VIRTIO_CONSOLE_PORT_REMOVE  2
#define VIRTIO_CONSOLE_PORT_READY   3
#define VIRTIO_CONSOLE_CONSOLE_PORT 4
#define VIRTIO_CONSOLE_RESIZE	    5
#define VIRTIO_CONSOLE_PORT_OPEN    6
#define VIRTIO_CONSOLE_PORT_NAME    7

struct virtio_console_control {
	uint32_t id; /* le32 port number */
	uint16_t event;
	uint16_t value;
};

/* Acts on one message the driver sent on the control transmitq (I/O thread).
 * Short messages, unknown events and port ids beyond the device's ports are
 * ignored. Replies are queued for the control receiveq. */
void console_handle_control(struct virtio_console *c, const void *msg, size_t len);
/* How many replies wait for a control receiveq buffer (for tests). */
unsigned console_pending_control(struct virtio_console *c);

#endif
