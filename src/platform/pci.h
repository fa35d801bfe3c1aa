/* PCI host bridge (Q35-like, bus 0 only): ECAM + the 0xcf8/0xcfc legacy
 * ports for configuration space, and decoding of device BARs inside the
 * 32-bit MMIO window and the I/O port window wherever the guest (or
 * firmware) places them. */
#ifndef VMK_PCI_H
#define VMK_PCI_H

#include "platform/bus.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_CFG_SIZE 4096
#define PCI_NUM_BARS 6

/* Standard configuration-space offsets. */
#define PCI_VENDOR_ID		 0x00
#define PCI_DEVICE_ID		 0x02
#define PCI_COMMAND		 0x04
#define PCI_STATUS		 0x06
#define PCI_REVISION		 0x08
#define PCI_CLASS_PROG		 0x09
#define PCI_CLASS_DEVICE	 0x0a
#define PCI_HEADER_TYPE		 0x0e
#define PCI_BAR0		 0x10
#define PCI_SUBSYSTEM_VENDOR_ID	 0x2c
#define PCI_SUBSYSTEM_ID	 0x2e
#define PCI_CAPABILITY_LIST	 0x34
#define PCI_INTERRUPT_LINE	 0x3c
#define PCI_INTERRUPT_PIN	 0x3d
#define PCI_COMMAND_IO		 0x1
#define PCI_COMMAND_MEMORY	 0x2
#define PCI_COMMAND_MASTER	 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST	 0x10
#define PCI_CAP_ID_MSIX		 0x11
#define PCI_CAP_ID_VNDR		 0x09

struct pci_dev;

struct pci_dev_ops {
	/* BAR accesses; off is relative to the BAR's start. */
	void (*bar_read)(void *opaque, unsigned bar, uint64_t off, uint8_t *data, unsigned size);
	void (*bar_write)(void *opaque, unsigned bar, uint64_t off, const uint8_t *data, unsigned size);
	/* After the guest changed config space bytes [off, off+size): lets the
	 * device follow capability writes (MSI-X enable) and BAR moves. */
	void (*config_written)(void *opaque, unsigned off, unsigned size);
	/* Optional: before the guest reads config bytes [off, off+size), lets
	 * the device fill registers whose value lives elsewhere (virtio's
	 * configuration access window). */
	void (*config_read)(void *opaque, unsigned off, unsigned size);
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];	 /* bits the guest may write */
	uint64_t bar_size[PCI_NUM_BARS]; /* 0: unused; 32-bit, power of two */
	uint8_t bar_io;			 /* bit n: BAR n is an I/O BAR */
	unsigned slot;			 /* device number on bus 0 */
	const struct pci_dev_ops *ops;
	void *opaque;
	uint8_t next_cap; /* where the next capability goes */
};

/* Fills the header: ids, class (class << 16 | subclass << 8 | prog-if). */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id, const struct pci_dev_ops *ops, void *opaque);
/* Declares memory BAR n of size bytes (a power of two >= 4 KiB). */
void pci_dev_set_bar(struct pci_dev *d, unsigned n, uint64_t size);
/* Declares I/O BAR n of size ports (a power of two, 4 to 256), decoded
 * with 16 address bits as on x86. */
void pci_dev_set_io_bar(struct pci_dev *d, unsigned n, uint64_t size);
/* Appends a capability of len bytes (id at +0, next pointer at +1 filled
 * in); returns its offset. wmask for its bytes starts at zero. */
uint8_t pci_dev_add_cap(struct pci_dev *d, uint8_t id, unsigned len);
/* Current guest-physical address (memory BAR) or port (I/O BAR) of BAR n,
 * or 0 when its kind of decode is off. */
uint64_t pci_dev_bar_addr(const struct pci_dev *d, unsigned n);

struct pci_host;

/* ecam is the base of 256 MiB of ECAM space; [win_base, win_base+win_size)
 * is the window memory BARs live in, [io_base, io_base+io_size) the ports
 * I/O BARs live in. Registers itself on both buses. */
struct pci_host *pci_host_new(struct bus *pio, struct bus *mmio, uint64_t ecam, uint64_t win_base,
			      uint64_t win_size, uint64_t io_base, uint64_t io_size);
/* Places d in the next free slot and gives its BARs initial addresses in
 * the window (as firmware would). Before vCPUs run. Returns 0 or -errno. */
int pci_host_add(struct pci_host *h, struct pci_dev *d);
/* Places d at a fixed slot (chipset functions firmware finds by address). */
int pci_host_add_slot(struct pci_host *h, struct pci_dev *d, unsigned slot);
void pci_host_free(struct pci_host *h);

/* Config-space access, for the bus handlers and the unit tests. */
void pci_host_cfg_read(struct pci_host *h, unsigned devfn, unsigned off, uint8_t *data, unsigned size);
void pci_host_cfg_write(struct pci_host *h, unsigned devfn, unsigned off, const uint8_t *data, unsigned size);

#endif
