/* PCI configuration space from inside the guest: ECAM (base from the ACPI
 * MCFG table) and the legacy 0xcf8/0xcfc mechanism #1, bus 0 only. */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "lib.h"

#define PCI_VENDOR 0x00
#define PCI_DEVICE 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS 0x09 /* 3 bytes: prog-if, subclass, class */
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34
#define PCI_CMD_IO 0x1
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_CMD_INTX_DISABLE 0x400
#define PCI_STATUS_CAPS 0x10
#define PCI_CAP_VNDR 0x09
#define PCI_CAP_MSIX 0x11

/* Reads the MCFG table. Returns the ECAM base of segment 0 bus 0, or 0 (and
 * why in *why) if there is no usable MCFG. */
uint64_t pci_mcfg_ecam(const char **why);
/* Sets the ECAM base pci_read/pci_write with ecam=true use; the short
 * helpers below use ECAM once a base is set, else 0xcf8/0xcfc. */
void pci_set_ecam(uint64_t base);
extern bool pci_use_ecam;

/* Config space of bus 0, device dev, function fn; size 1, 2 or 4, off
 * naturally aligned. ecam: through ECAM, else through 0xcf8/0xcfc. */
uint32_t pci_read(bool ecam, unsigned dev, unsigned fn, unsigned off, unsigned size);
void pci_write(bool ecam, unsigned dev, unsigned fn, unsigned off, unsigned size, uint32_t v);
static inline uint32_t pci_read32(unsigned dev, unsigned off) { return pci_read(pci_use_ecam, dev, 0, off, 4); }
static inline uint16_t pci_read16(unsigned dev, unsigned off) { return (uint16_t)pci_read(pci_use_ecam, dev, 0, off, 2); }
static inline uint8_t pci_read8(unsigned dev, unsigned off) { return (uint8_t)pci_read(pci_use_ecam, dev, 0, off, 1); }
static inline void pci_write32(unsigned dev, unsigned off, uint32_t v) { pci_write(pci_use_ecam, dev, 0, off, 4, v); }
static inline void pci_write16(unsigned dev, unsigned off, uint16_t v) { pci_write(pci_use_ecam, dev, 0, off, 2, v); }
static inline void pci_write8(unsigned dev, unsigned off, uint8_t v) { pci_write(pci_use_ecam, dev, 0, off, 1, v); }

/* The first device (function 0) with these ids on bus 0, or -1. */
int pci_find_device(uint16_t vendor, uint16_t device);

/* Walks the capability list of dev (function 0), at most 48 entries.
 * Calls fn for every capability; returns the number walked, or -1 when the
 * list is malformed (pointer below 0x40, unaligned, or a loop). */
int pci_walk_caps(unsigned dev, void (*fn)(unsigned dev, uint8_t off, uint8_t id, void *ctx), void *ctx);

/* MMIO of other widths. */
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }

#endif
