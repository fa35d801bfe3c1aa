/* virtio-rng request handling, apart from the queue plumbing so unit tests
 * and fuzzers can drive it with hand-made requests. */
#ifndef VMK_VIRTIO_RNG_H
#define VMK_VIRTIO_RNG_H

#include "virtio/queue.h"
#include <stdint.h>

/* The most one request gets: bounds the work a single guest buffer costs. */
#define RNG_MAX_REQUEST (64 * 1024)

/* Fills e's device-writable buffers with random bytes, in order, up to
 * RNG_MAX_REQUEST; returns how many bytes were written. */
uint32_t rng_fill(const struct virtq_elem *e);

#endif
