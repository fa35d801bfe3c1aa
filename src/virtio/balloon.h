/* virtio-balloon request handling, apart from the queue plumbing so unit
 * tests and fuzzers can drive it with hand-made requests. */
#ifndef VMK_VIRTIO_BALLOON_H
#define VMK_VIRTIO_BALLOON_H

#include "core/memory.h"
#include "virtio/queue.h"
#include <vmkit/devices.h>

#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGE_SIZE  (1u << BALLOON_PAGE_SHIFT)

/* Statistics tags (§5.5.6.3). */
#define VIRTIO_BALLOON_S_SWAP_IN  0
#define VIRTIO_BALLOON_S_SWAP_OUT 1
#define VIRTIO_BALLOON_S_MAJFLT	  2
#define VIRTIO_BALLOON_S_MINFLT	  3
#define VIRTIO_BALLOON_S_MEMFREE  4
#define VIRTIO_BALLOON_S_MEMTOT	  5
#define VIRTIO_BALLOON_S_AVAIL	  6
#define VIRTIO_BALLOON_S_CACHES	  7

/* The most statistics entries read from one buffer (10 tags are defined;
 * a guest repeating them gains nothing but host work). */
#define BALLOON_MAX_STATS 64

/* Gives back to the host every page named by the le32 PFNs in e's readable
 * buffers. PFNs outside guest RAM are counted in *rejected and left alone;
 * a trailing partial PFN is ignored. Returns how many pages were released. */
unsigned balloon_inflate_pfns(const struct gmem *mem, const struct virtq_elem *e, unsigned *rejected);
/* Reads the {le16 tag, le64 value} entries of a statistics buffer into the
 * guest fields of st (unknown tags are skipped; fields not reported become
 * UINT64_MAX). Returns the number of entries read. */
unsigned balloon_parse_stats(const struct virtq_elem *e, vmk_balloon_stats *st);

#endif
