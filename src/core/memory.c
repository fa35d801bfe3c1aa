/* Guest RAM mapping and checked guest-physical accessors. */
#include "core/memory.h"
#include "arch/x86/layout.h"
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

int gmem_init(struct gmem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	/* NORESERVE: the guest touches what it uses; untouched RAM costs nothing.
	 * Mapped 2 MiB-aligned and marked for transparent huge pages: KVM maps
	 * a guest 2 MiB page with one large stage-2 entry only when the host
	 * page behind it is huge and the two are aligned alike, which cuts the
	 * guest's TLB misses and their two-level walks (QEMU aligns the same
	 * way). The kernel does not align anonymous mappings by itself (before
	 * 6.7), so map 2 MiB more and trim both ends. */
	const size_t align = 2u << 20;
	uint8_t *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (p + size < raw + size + align)
		munmap(p + size, (size_t)(raw + size + align - (p + size)));
	madvise(p, size, MADV_DONTDUMP);
	madvise(p, size, MADV_HUGEPAGE); /* fails harmlessly where THP is off */
	m->base = p;
	m->size = size;
	uint64_t low = size < LAYOUT_MEM32_END ? size : LAYOUT_MEM32_END;
	m->regions[0] = (struct gmem_region){.gpa = 0, .size = low, .host = m->base};
	m->nregions = 1;
	if (size > low) {
		m->regions[1] =
		    (struct gmem_region){.gpa = LAYOUT_HIGHMEM, .size = size - low, .host = m->base + low};
		m->nregions = 2;
	}
	return 0;
}

int gmem_register(const struct gmem *m, int vm_fd)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		struct kvm_userspace_memory_region r = {
		    .slot = i,
		    .guest_phys_addr = m->regions[i].gpa,
		    .memory_size = m->regions[i].size,
		    .userspace_addr = (uint64_t)(uintptr_t)m->regions[i].host,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}
	return 0;
}

void gmem_destroy(struct gmem *m)
{
	if (m->base)
		munmap(m->base, m->size);
	memset(m, 0, sizeof(*m));
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t gmem_below_4g(const struct gmem *m)
{
	return m->regions[0].size;
}

uint64_t gmem_above_4g(const struct gmem *m)
{
	return m->nregions > 1 ? m->regions[1].size : 0;
}
