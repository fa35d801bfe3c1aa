/* The VM's KVM interrupt routing table: the fixed PC routes for GSI 0-23
 * plus one MSI route per allocated GSI (MSI-X vectors of PCI devices). */
#ifndef VMK_IRQ_H
#define VMK_IRQ_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_MAX_MSI 512

struct irq_router {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned nmsi;
	struct {
		uint64_t addr;
		uint32_t data;
		bool valid;
	} msi[IRQ_MAX_MSI];
};

int irq_router_init(struct irq_router *r, int vm_fd);
void irq_router_destroy(struct irq_router *r);
/* Reserves a GSI for an MSI route; returns it or -ENOSPC. */
int irq_router_alloc_msi(struct irq_router *r);
/* Points gsi at an MSI message (valid=false: no route) and commits. */
int irq_router_set_msi(struct irq_router *r, unsigned gsi, uint64_t addr, uint32_t data, bool valid);

#endif
