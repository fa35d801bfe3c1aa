/* virtio-rng: an entropy source (virtio 1.2 §5.4) fed from the host's
 * getrandom(). No feature bits and no configuration space. */
#include "virtio/rng.h"
#include "util/error_priv.h"
#include "virtio/devices.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

struct virtio_rng {
	struct virtio_dev dev;
	/* Only the I/O thread pops, so one element is enough. */
	struct virtq_elem elem;
};

uint32_t rng_fill(const struct virtq_elem *e)
{
	uint32_t done = 0;

	for (unsigned i = e->nout; i < e->nout + e->nin && done < RNG_MAX_REQUEST; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t want = e->iov[i].iov_len, got = 0;

		if (want > RNG_MAX_REQUEST - done)
			want = RNG_MAX_REQUEST - done;
		while (got < want) {
			ssize_t n = getrandom(p + got, want - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			/* Report only what really is random: never hand out zeros. */
			if (n <= 0)
				return done + (uint32_t)got;
			got += (size_t)n;
		}
		done += (uint32_t)got;
	}
	return done;
}

static void rng_queue_notify(void *opaque, unsigned q)
{
	struct virtio_rng *r = opaque;
	struct virtq *vq = virtio_queue(&r->dev, q);
	bool pushed = false;
	int ret;

	if (q != 0 || !vq)
		return;
	while ((ret = virtq_pop(vq, &r->elem)) == 1) {
		virtq_push(vq, r->elem.head, rng_fill(&r->elem));
		pushed = true;
	}
	if (ret < 0)
		virtio_set_needs_reset(&r->dev, "virtio-rng: malformed request queue");
	if (pushed)
		virtio_notify_queue(&r->dev, 0);
}

struct virtio_rng *virtio_rng_new(vmk_error **err)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));

	if (!r) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "entropy", "entropy: out of memory");
		return NULL;
	}
	r->dev = (struct virtio_dev){
	    .name = "virtio-rng",
	    .device_id = VIRTIO_ID_RNG,
	    .pci_class = 0xff0000,
	    .num_queues = 1,
	    .queue_max_size = 256,
	    .opaque = r,
	    .queue_notify = rng_queue_notify,
	};
	return r;
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *r)
{
	return &r->dev;
}

void virtio_rng_free(struct virtio_rng *r)
{
	free(r);
}
