/* The ICH9 LPC bridge at 00:1f.0 (8086:2918), as far as firmware looks at
 * it: PMBASE, ACPI_CNTL, PIRQ routing and RCBA registers. */
#ifndef VMK_LPC_H
#define VMK_LPC_H

#include "platform/pci.h"

#define LPC_SLOT       31
#define LPC_PMBASE     0x40
#define LPC_ACPI_CNTL  0x44
#define LPC_ACPI_EN    0x80
#define LPC_PIRQA_ROUT 0x60
#define LPC_PIRQE_ROUT 0x68
#define LPC_GEN_PMCON1 0xa0
#define LPC_RCBA       0xf0

struct pci_dev *lpc_new(struct pci_host *h);
void lpc_free(struct pci_dev *d);

#endif
