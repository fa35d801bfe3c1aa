/* The virtual machine configuration (Apple: VZVirtualMachineConfiguration).
 * Pure data: building and validating one touches no KVM state. */
#ifndef VMKIT_CONFIG_H
#define VMKIT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/boot_loader.h>
#include <vmkit/error.h>
#include <vmkit/network.h>
#include <vmkit/serial.h>
#include <vmkit/storage.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_config vmk_config;

/* What a guest-initiated reboot does. */
typedef enum vmk_reboot_action {
	VMK_REBOOT_RESTART = 0, /* reset the machine and boot again, VM stays running */
	VMK_REBOOT_STOP = 1,	/* stop the VM, reported as VMK_STOP_REASON_GUEST_REBOOT */
} vmk_reboot_action;

/* Defaults: 1 vCPU, 512 MiB, no boot loader, no serial ports, reboot restarts. */
vmk_config *vmk_config_new(void);
vmk_config *vmk_config_copy(const vmk_config *cfg);
void vmk_config_free(vmk_config *cfg);

void vmk_config_set_cpu_count(vmk_config *cfg, unsigned count);
unsigned vmk_config_get_cpu_count(const vmk_config *cfg);
/* Bytes; a multiple of 1 MiB between the minimum and the host's memory. */
void vmk_config_set_memory_size(vmk_config *cfg, uint64_t bytes);
uint64_t vmk_config_get_memory_size(const vmk_config *cfg);
/* The configuration keeps its own copy; NULL clears. */
void vmk_config_set_boot_loader(vmk_config *cfg, const vmk_boot_loader *bl);
const vmk_boot_loader *vmk_config_get_boot_loader(const vmk_config *cfg);
/* Appends a copy of the port. */
bool vmk_config_add_serial_port(vmk_config *cfg, const vmk_serial_port *port, vmk_error **err);
size_t vmk_config_get_serial_port_count(const vmk_config *cfg);
/* Appends a copy of the storage device (at most 16). */
bool vmk_config_add_storage_device(vmk_config *cfg, const vmk_storage_device *dev, vmk_error **err);
size_t vmk_config_get_storage_device_count(const vmk_config *cfg);
/* Appends a copy of the network device (at most 8). A device without a MAC
 * address gets a random locally administered one here, which the copy keeps
 * for the VM's life. */
bool vmk_config_add_network_device(vmk_config *cfg, const vmk_network_device *dev, vmk_error **err);
size_t vmk_config_get_network_device_count(const vmk_config *cfg);
/* A virtio-rng device fed from the host's getrandom() (at most one). */
bool vmk_config_add_entropy_device(vmk_config *cfg, vmk_error **err);
/* A traditional virtio memory balloon (at most one). */
bool vmk_config_add_memory_balloon(vmk_config *cfg, vmk_error **err);
/* The machine identifier (Apple: VZGenericMachineIdentifier, the
 * platform's machineIdentifier): 16 bytes the guest reads as its SMBIOS
 * system UUID and serial number (/sys/class/dmi/id/product_uuid). A new
 * configuration gets a random (version 4) one; copies and the VM keep it,
 * so it is stable across reboots. Save it and set it again to give a
 * guest the same identity in every run. */
void vmk_config_set_machine_identifier(vmk_config *cfg, const uint8_t id[16]);
void vmk_config_get_machine_identifier(const vmk_config *cfg, uint8_t id[16]);
void vmk_config_set_reboot_action(vmk_config *cfg, vmk_reboot_action action);
vmk_reboot_action vmk_config_get_reboot_action(const vmk_config *cfg);

/* Checks everything and reports every problem as a chain of errors. */
bool vmk_config_validate(const vmk_config *cfg, vmk_error **err);

/* Limits validate() applies on this host. */
unsigned vmk_config_min_cpu_count(void);
unsigned vmk_config_max_cpu_count(void);
uint64_t vmk_config_min_memory_size(void);
uint64_t vmk_config_max_memory_size(void);

#ifdef __cplusplus
}
#endif
#endif
