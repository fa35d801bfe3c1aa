/* CFI parallel flash with the Intel command set (QEMU's pflash_cfi01, x8),
 * as OVMF drives it: the firmware code (read-only) and the UEFI variable
 * store (read-write, every change persisted to its file atomically). */
#ifndef VMK_PFLASH_H
#define VMK_PFLASH_H

#include "platform/bus.h"
#include <stdbool.h>
#include <stdint.h>
#include <vmkit/error.h>

#define PFLASH_SECTOR 4096

struct pflash;

/* Loads the whole file (a multiple of PFLASH_SECTOR bytes) to be mapped at
 * guest-physical base. A writable store is locked against other users and
 * written back through a temporary file and rename, so the file always
 * holds a state the guest had between two flash commands. field names the
 * configuration item in errors. */
struct pflash *pflash_new(const char *path, bool writable, uint64_t base, const char *field, vmk_error **err);
/* Registers the command/MMIO handler over [base, base+size). A read-only
 * flash mapped as a read-only memory slot only sees the guest's writes
 * there, which it ignores. */
int pflash_attach(struct pflash *p, struct bus *mmio);
/* Lets the owner map the image (pflash_host) as a read-only memory slot
 * while the flash is in read-array mode: hook(ctx, true) must map it,
 * hook(ctx, false) unmap it; both return success. Maps it now when in
 * read-array mode (false when that fails). Called on the vCPU thread that
 * writes a command, with the flash's lock held. */
bool pflash_set_map_hook(struct pflash *p, bool (*hook)(void *ctx, bool map), void *ctx);
/* Moves the flash before it is attached (its size decides where). */
void pflash_set_base(struct pflash *p, uint64_t base);
uint64_t pflash_size(const struct pflash *p);
uint64_t pflash_base(const struct pflash *p);
/* The flash contents, for a read-only KVM memory slot. */
uint8_t *pflash_host(struct pflash *p);
/* Waits until the file holds every completed guest write. */
void pflash_sync(struct pflash *p);
/* Syncs, then frees. */
void pflash_free(struct pflash *p);

#endif
