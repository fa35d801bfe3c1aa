/* Unit tests of the split-virtqueue walker with rings crafted in real
 * guest RAM: well-formed requests, and every malformed shape a hostile
 * driver can publish (loops, out-of-range buffers, wrong direction order,
 * bad heads and indices, bad indirect tables). */
#include "../unit/check.h"
#include "virtio/queue.h"
#include <errno.h>
#include <string.h>

#define QSIZE 8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define TABLE 0x4000
#define DATA  0x10000

static struct gmem mem;
static struct virtq q;
static struct virtq_elem e;

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(&mem, table + 16ULL * i, 16);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Publishes head at the next available slot. */
static void publish(uint16_t head)
{
	uint16_t *avail = gmem_ptr(&mem, AVAIL, 4 + 2 * QSIZE);
	avail[2 + avail[1] % QSIZE] = head;
	avail[1]++;
}

static void fresh(bool event_idx, bool indirect)
{
	memset(mem.base, 0, 0x20000);
	CHECK(virtq_init(&q, &mem, QSIZE, DESC, AVAIL, USED, event_idx, indirect) == 0, "queue set up");
}

static int pop_one(void)
{
	return virtq_pop(&q, &e);
}

int main(void)
{
	if (gmem_init(&mem, 1 << 20) < 0)
		return 1;

	CHECK(virtq_init(&q, &mem, QSIZE, DESC + 8, AVAIL, USED, false, false) == -EINVAL,
	      "a misaligned descriptor table is refused");
	CHECK(virtq_init(&q, &mem, 6, DESC, AVAIL, USED, false, false) == -EINVAL,
	      "a queue size that is not a power of two is refused");
	CHECK(virtq_init(&q, &mem, QSIZE, DESC, AVAIL, (1 << 20) - 16, false, false) == -EINVAL,
	      "a used ring crossing the end of RAM is refused");

	fresh(false, false);
	CHECK(pop_one() == 0, "an empty queue pops nothing");
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA + 0x100, 512, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	CHECK(pop_one() == 1 && e.head == 0 && e.nout == 1 && e.nin == 1 && e.out_len == 16 &&
		  e.in_len == 512,
	      "a readable + writable chain pops with its lengths");
	CHECK(e.iov[0].iov_base == gmem_ptr(&mem, DATA, 16), "buffers point into guest RAM");
	virtq_push(&q, e.head, 100);
	uint32_t *used = gmem_ptr(&mem, USED, 4 + 8 * QSIZE);
	CHECK((used[0] >> 16) == 1 && used[1] == 0 && used[2] == 100, "push publishes id and length");
	CHECK(virtq_should_notify(&q), "the driver wants an interrupt by default");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a chain looping on itself is malformed");

	fresh(false, false);
	set_desc(DESC, 0, 0xfff00000000ULL, 16, 0, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a buffer outside RAM is malformed");

	fresh(false, false);
	set_desc(DESC, 0, (1 << 20) - 8, 16, 0, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a buffer crossing the end of RAM is malformed");

	fresh(false, false);
	set_desc(DESC, 0, UINT64_MAX - 4, 16, 0, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a buffer wrapping past 2^64 is malformed");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA + 0x100, 16, 0, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a readable buffer after a writable one is malformed");

	fresh(false, false);
	publish(QSIZE);
	CHECK(pop_one() == -EINVAL, "a head beyond the queue is malformed");

	fresh(false, false);
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, QSIZE + 3);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a next index beyond the queue is malformed");

	fresh(false, false);
	uint16_t *avail = gmem_ptr(&mem, AVAIL, 4);
	avail[1] = QSIZE + 1;
	CHECK(pop_one() == -EINVAL, "an available index more than a queue ahead is malformed");

	fresh(false, true);
	set_desc(TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(TABLE, 1, DATA + 0x100, 64, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(TABLE, 2, DATA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC, 0, TABLE, 48, VIRTQ_DESC_F_INDIRECT, 0);
	publish(0);
	CHECK(pop_one() == 1 && e.nout == 1 && e.nin == 2 && e.in_len == 65, "an indirect table pops");

	fresh(false, false);
	set_desc(DESC, 0, TABLE, 48, VIRTQ_DESC_F_INDIRECT, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "an indirect descriptor without INDIRECT_DESC is malformed");

	fresh(false, true);
	set_desc(TABLE, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a nested indirect table is malformed");

	fresh(false, true);
	set_desc(DESC, 0, TABLE, 40, VIRTQ_DESC_F_INDIRECT, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "an indirect table whose length is not a multiple of 16 is malformed");

	fresh(false, true);
	set_desc(TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(TABLE, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	set_desc(DESC, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "a loop inside an indirect table is malformed");

	fresh(false, true);
	set_desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(0);
	CHECK(pop_one() == -EINVAL, "an indirect descriptor inside a chain is malformed");

	/* EVENT_IDX: the driver asks for an interrupt only past used_event. */
	fresh(true, false);
	set_desc(DESC, 0, DATA, 16, 0, 0);
	uint16_t *used_event = gmem_ptr(&mem, AVAIL + 4 + 2 * QSIZE, 2);
	*used_event = 5;
	publish(0);
	CHECK(pop_one() == 1, "pop with EVENT_IDX");
	uint16_t *avail_event = gmem_ptr(&mem, USED + 4 + 8 * QSIZE, 2);
	CHECK(*avail_event == 1, "avail_event tells the driver where the device will look next");
	virtq_push(&q, 0, 0);
	CHECK(virtq_should_notify(&q), "the first interrupt is always sent");
	publish(0);
	pop_one();
	virtq_push(&q, 0, 0);
	CHECK(!virtq_should_notify(&q), "no interrupt before used_event is passed");
	/* A device short of buffers gives them back: the driver must still kick
	 * when it adds more (vring_need_event(avail_event, new, old) with old =
	 * the index it had published). */
	set_desc(DESC, 1, DATA, 16, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	publish(1);
	CHECK(pop_one() == 1 && pop_one() == 1 && pop_one() == 0, "two buffers popped");
	virtq_unpop(&q, 2);
	CHECK(*avail_event == 4, "unpop leaves avail_event past what the driver published (%u)",
	      *avail_event);
	CHECK(pop_one() == 1 && e.head == 0 && pop_one() == 1 && e.head == 1, "given-back buffers pop again");

	uint8_t a[4] = {1, 2, 3, 4}, b[6] = {0}, out[5];
	struct iovec iov[2] = {{a, 4}, {b, 6}};
	CHECK(iov_copy_to(iov, 2, 2, "XYZW", 4) == 4 && a[2] == 'X' && a[3] == 'Y' && b[0] == 'Z' &&
		  b[1] == 'W',
	      "iov_copy_to spans iovecs at an offset");
	CHECK(iov_copy_from(iov, 2, 3, out, 5) == 5 && out[0] == 'Y' && out[1] == 'Z',
	      "iov_copy_from spans iovecs");
	CHECK(iov_copy_from(iov, 2, 8, out, 5) == 2, "iov_copy_from stops at the end");

	gmem_destroy(&mem);
	return check_done();
}
