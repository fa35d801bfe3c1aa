/* KVM GSI routing. QEMU's PC routing, which the MADT describes: ISA IRQ 0
 * (the PIT) reaches IOAPIC pin 2, every other IRQ its own pin; the PIC sees
 * IRQs 0-15. MSI routes follow from GSI 24 on. The whole table is rewritten
 * on each change (KVM_SET_GSI_ROUTING replaces it), which only happens when
 * the guest programs an MSI-X entry. */
#include "platform/irq.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define IOAPIC_PINS 24

static int irq_commit(struct irq_router *r)
{
	struct kvm_irq_routing *t =
	    calloc(1, sizeof(*t) + (16 + IOAPIC_PINS + r->nmsi) * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	unsigned n = 0;
	for (unsigned i = 0; i < 16; i++)
		t->entries[n++] = (struct kvm_irq_routing_entry){
		    .gsi = i,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {.irqchip = i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				  .pin = i % 8}};
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		if (i == 2)
			continue;
		t->entries[n++] = (struct kvm_irq_routing_entry){
		    .gsi = i,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = i == 0 ? 2 : i}};
	}
	for (unsigned i = 0; i < r->nmsi; i++) {
		if (!r->msi[i].valid)
			continue;
		t->entries[n++] =
		    (struct kvm_irq_routing_entry){.gsi = IOAPIC_PINS + i,
						   .type = KVM_IRQ_ROUTING_MSI,
						   .u.msi = {.address_lo = (uint32_t)r->msi[i].addr,
							     .address_hi = (uint32_t)(r->msi[i].addr >> 32),
							     .data = r->msi[i].data}};
	}
	t->nr = n;
	int ret = ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
	free(t);
	return ret;
}

int irq_router_init(struct irq_router *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	return irq_commit(r);
}

void irq_router_destroy(struct irq_router *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_router_alloc_msi(struct irq_router *r)
{
	pthread_mutex_lock(&r->lock);
	int gsi = r->nmsi < IRQ_MAX_MSI ? (int)(IOAPIC_PINS + r->nmsi++) : -ENOSPC;
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

int irq_router_set_msi(struct irq_router *r, unsigned gsi, uint64_t addr, uint32_t data, bool valid)
{
	if (gsi < IOAPIC_PINS || gsi - IOAPIC_PINS >= IRQ_MAX_MSI)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	unsigned i = gsi - IOAPIC_PINS;
	int ret = 0;
	if (i < r->nmsi && (r->msi[i].valid != valid || r->msi[i].addr != addr || r->msi[i].data != data)) {
		r->msi[i].addr = addr;
		r->msi[i].data = data;
		r->msi[i].valid = valid;
		ret = irq_commit(r);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}
