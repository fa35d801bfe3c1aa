/* Guest RAM: one anonymous mapping split into KVM memory slots around the
 * 32-bit PCI hole. The only way to reach guest memory is gmem_ptr(), which
 * checks the whole range. */
#ifndef VMK_MEMORY_H
#define VMK_MEMORY_H

#include <stddef.h>
#include <stdint.h>

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct gmem {
	uint8_t *base; /* the whole mapping */
	uint64_t size; /* RAM size in bytes */
	struct gmem_region regions[2];
	unsigned nregions;
};

/* Maps size bytes of RAM laid out per arch/x86/layout.h. Returns 0 or -errno. */
int gmem_init(struct gmem *m, uint64_t size);
/* Registers the regions as KVM memory slots. */
int gmem_register(const struct gmem *m, int vm_fd);
void gmem_destroy(struct gmem *m);
/* Host pointer for [gpa, gpa+len) if it lies wholly in one RAM region, else NULL. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);
uint64_t gmem_below_4g(const struct gmem *m);
uint64_t gmem_above_4g(const struct gmem *m);

#endif
