/* Unit tests of what vmkit hands vhost-net, without /dev/vhost-net: the
 * memory table (guest RAM only, guest-physical to host addresses) and the
 * ring addresses of a queue, which must each lie inside one RAM region.
 * The layout mimics gmem's: two regions, contiguous in host memory but not
 * in guest-physical space, so a ring across the seam is refused. */
#include "../unit/check.h"
#include "virtio/vhost_net.h"
#include <errno.h>
#include <stdlib.h>

#define R0 0x10000 /* region sizes */
#define R1 0x8000

static struct gmem mem;
static uint8_t *host;

/* A queue of n entries whose areas start at these host offsets. */
static struct virtq ring(uint16_t n, size_t desc, size_t avail, size_t used)
{
	return (struct virtq){.size = n, .desc = host + desc, .avail = host + avail, .used = host + used};
}

int main(void)
{
	struct vhost_vring_addr a;
	struct vhost_memory *t;
	struct virtq q;

	host = aligned_alloc(4096, R0 + R1);
	if (!host)
		return 1;
	mem.base = host;
	mem.size = R0 + R1;
	mem.regions[0] = (struct gmem_region){.gpa = 0, .size = R0, .host = host};
	mem.regions[1] = (struct gmem_region){.gpa = 1ull << 32, .size = R1, .host = host + R0};
	mem.nregions = 2;

	t = vhost_mem_table(&mem);
	CHECK(t && t->nregions == 2, "one table entry per RAM region");
	CHECK(t && t->regions[0].guest_phys_addr == 0 && t->regions[0].memory_size == R0 &&
		  t->regions[0].userspace_addr == (uintptr_t)host,
	      "low RAM: guest 0 at the mapping's start");
	CHECK(t && t->regions[1].guest_phys_addr == 1ull << 32 && t->regions[1].memory_size == R1 &&
		  t->regions[1].userspace_addr == (uintptr_t)(host + R0),
	      "high RAM: guest 4 GiB right after low RAM in the mapping");
	free(t);

	q = ring(256, 0x1000, 0x2000, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 1, &a) == 0 && a.index == 1 &&
		  a.desc_user_addr == (uintptr_t)(host + 0x1000) &&
		  a.avail_user_addr == (uintptr_t)(host + 0x2000) &&
		  a.used_user_addr == (uintptr_t)(host + 0x3000) && a.flags == 0 && a.log_guest_addr == 0,
	      "a queue in low RAM: the host addresses of its three areas");
	q = ring(256, R0 + 0x1000, R0 + 0x2000, R0 + 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == 0 && a.used_user_addr == (uintptr_t)(host + R0 + 0x3000),
	      "a queue in high RAM");

	q = ring(256, 0x1008, 0x2000, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "descriptor table not 16-byte aligned");
	q = ring(256, 0x1000, 0x2001, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "available ring at an odd address");
	q = ring(256, 0x1000, 0x2000, 0x3002);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "used ring not 4-byte aligned");
	q = ring(6, 0x1000, 0x2000, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "size not a power of two");
	q = ring(0, 0x1000, 0x2000, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "size 0");

	/* 256 entries: used ring 6 + 8 * 256 = 2054 bytes, avail 6 + 2 * 256 = 518. */
	q = ring(256, 0x1000, 0x2000, R0 - 2056);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == 0, "used ring ending 2 bytes before the end of low RAM");
	q = ring(256, 0x1000, 0x2000, R0 - 2052);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL,
	      "used ring whose avail_event word crosses into high RAM (contiguous on the host, not in the "
	      "guest)");
	q = ring(256, 0x1000, R0 - 518, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == 0,
	      "available ring (used_event included) ending at low RAM's end");
	q = ring(256, 0x1000, R0 - 516, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL,
	      "available ring whose used_event word is past low RAM");
	q = ring(256, R0 + R1 - 4096, 0x2000, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == 0, "descriptor table ending at the end of RAM");
	q = ring(256, R0 + R1 - 4080, 0x2000, 0x3000);
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "descriptor table running past the end of RAM");
	q = (struct virtq){.size = 256, .desc = host - 4096, .avail = host + 0x2000, .used = host + 0x3000};
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "descriptor table below RAM");
	q = (struct virtq){.size = 256, .desc = NULL, .avail = host + 0x2000, .used = host + 0x3000};
	CHECK(vhost_ring_addr(&mem, &q, 0, &a) == -EINVAL, "no descriptor table (queue not set up)");
	free(host);
	return check_done();
}
