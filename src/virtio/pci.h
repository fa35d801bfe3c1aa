/* The virtio 1.x PCI transport (virtio 1.2 §4.1, modern only): one PCI
 * function per virtio device, MSI-X interrupts through KVM irqfds, queue
 * notifications through KVM ioeventfds handled on the machine's I/O thread. */
#ifndef VMK_VIRTIO_PCI_H
#define VMK_VIRTIO_PCI_H

#include "platform/irq.h"
#include "platform/pci.h"
#include "virtio/virtio.h"
#include <vmkit/error.h>

struct virtio_pci_env {
	int vm_fd;
	struct irq_router *irq;
	struct evloop *io;
	const struct gmem *mem;
};

struct virtio_pci *virtio_pci_new(struct virtio_dev *dev, const struct virtio_pci_env *env,
				  struct pci_host *host, vmk_error **err);
/* Call after the vCPUs and the I/O thread have stopped. */
void virtio_pci_free(struct virtio_pci *t);

#endif
