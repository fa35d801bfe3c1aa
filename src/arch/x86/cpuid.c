/* CPUID for the guest: KVM's supported set, adjusted for our topology.
 * Topology is one package of ncpus cores with one thread each; APIC id ==
 * vCPU id, as KVM's in-kernel LAPIC assigns it. */
#include "arch/x86/x86.h"
#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_MAX_ENTRIES 256

struct kvm_cpuid2 *cpuid_supported(int kvm_fd)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return NULL;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		free(c);
		return NULL;
	}
	/* The in-kernel LAPIC's TSC-deadline mode is not in KVM's supported
	 * set but has its own capability (as QEMU and Firecracker do, offer
	 * it): the guest then arms its timer with one MSR write that KVM takes
	 * on its exit fast path, instead of the LAPIC's one-shot count. */
	bool deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (unsigned i = 0; deadline && i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= 1u << 24;
	return c;
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

int cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *sup, unsigned id, unsigned ncpus)
{
	size_t sz = sizeof(struct kvm_cpuid2) + sup->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return -ENOMEM;
	memcpy(c, sup, sz);
	unsigned core_bits = bits_for(ncpus);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((ncpus & 0xff) << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: the logical count field is valid */
			e->ecx |= 1u << 31;	    /* running under a hypervisor */
			break;
		case 4: /* Intel cache topology: cores sharing each cache */
			e->eax = (e->eax & 0x03ffffff) | (((1u << core_bits) - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			/* x2APIC topology: level 0 threads (1), level 1 cores. */
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 0x100;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = 0x201;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			e->edx = id;
			break;
		case 0x80000008: /* AMD: number of cores - 1, and APIC id size */
			e->ecx = (e->ecx & ~0xf0ffu) | (ncpus - 1) | (core_bits << 12);
			break;
		default:
			break;
		}
	}
	int r = ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}
