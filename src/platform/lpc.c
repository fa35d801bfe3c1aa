/* ICH9 LPC interface bridge, function 0 of device 31 (ICH9 datasheet 13.1).
 * OVMF's PlatformPei writes PMBASE and sets ACPI_CNTL's enable bit before
 * it reads the ACPI PM timer there, and PlatformBootManagerLib routes the
 * PIRQ lines; the registers only need to hold what firmware writes, since
 * the PM block itself sits at a fixed 0x600 (LAYOUT_PM_BASE), the value
 * firmware programs. */
#include "platform/lpc.h"
#include "arch/x86/layout.h"
#include "platform/platform.h"
#include <stdlib.h>

struct pci_dev *lpc_new(struct pci_host *h)
{
	struct pci_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	pci_dev_init(d, 0x8086, 0x2918, 0x060100, 2, 0x1af4, 0x1100, NULL, NULL);
	/* PMBASE: 128 bytes of I/O space, bit 0 says so. */
	platform_put_le(d->cfg + LPC_PMBASE, 4, LAYOUT_PM_BASE | 1);
	platform_put_le(d->wmask + LPC_PMBASE, 4, 0xff80);
	d->cfg[LPC_ACPI_CNTL] = LPC_ACPI_EN;
	d->wmask[LPC_ACPI_CNTL] = LPC_ACPI_EN | 0x07;
	for (unsigned i = 0; i < 4; i++) {
		d->cfg[LPC_PIRQA_ROUT + i] = d->cfg[LPC_PIRQE_ROUT + i] = 0x80; /* routing disabled */
		d->wmask[LPC_PIRQA_ROUT + i] = d->wmask[LPC_PIRQE_ROUT + i] = 0x8f;
	}
	platform_put_le(d->wmask + LPC_GEN_PMCON1, 2, 0xffff);
	platform_put_le(d->wmask + LPC_RCBA, 4, 0xffffc001);
	if (pci_host_add_slot(h, d, LPC_SLOT) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

void lpc_free(struct pci_dev *d)
{
	free(d);
}
