/* Entropy and memory balloon devices (Apple: VZVirtioEntropyDeviceConfiguration,
 * VZVirtioTraditionalMemoryBalloonDeviceConfiguration). Virtio console ports
 * are serial ports of kind VMK_SERIAL_PORT_VIRTIO_CONSOLE (serial.h). */
#ifndef VMKIT_DEVICES_H
#define VMKIT_DEVICES_H

#include <stdbool.h>
#include <stdint.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_balloon_stats {
	uint64_t target_bytes; /* what the host asked for */
	uint64_t actual_bytes; /* what the guest has given back */
	/* From the guest's statistics queue; UINT64_MAX when not reported. */
	uint64_t swap_in, swap_out, major_faults, minor_faults;
	uint64_t free_memory, total_memory, available_memory, disk_caches;
} vmk_balloon_stats;

#ifdef __cplusplus
}
#endif
#endif
