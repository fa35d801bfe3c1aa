/* x86 vCPU set-up: CPUID, MSRs and the 64-bit boot register state. */
#ifndef VMK_X86_H
#define VMK_X86_H

#include "core/memory.h"
#include <stdint.h>

/* Reads KVM's supported CPUID once per machine (entries freed by caller via free()). */
struct kvm_cpuid2 *cpuid_supported(int kvm_fd);
/* Gives vCPU id of ncpus its CPUID: topology (one socket, ncpus cores),
 * APIC id, the hypervisor bit and KVM's paravirt leaves. */
int cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id, unsigned ncpus);

/* Writes the boot GDT and identity page tables (first 4 GiB) into RAM. */
int regs_write_boot_tables(const struct gmem *m);
/* Puts the vCPU in 64-bit mode at rip with rsi = zero page (Linux 64-bit
 * boot protocol). */
int regs_set_long_mode(int vcpu_fd, uint64_t rip, uint64_t rsi);
/* Power-on MSR values Linux expects from firmware. */
int regs_set_msrs(int vcpu_fd);

#endif
