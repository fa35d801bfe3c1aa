/* The virtual machine configuration (Apple: VZVirtualMachineConfiguration).
 * Setters store values as given; vmk_config_validate() judges them, so a
 * caller sees every problem at once instead of one per setter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config/config_priv.h"
#include "util/error_priv.h"

#define MiB (1024ull * 1024)

/* A version 4 (random) UUID; without entropy, time and pid still make
 * two VMs on one host differ. */
static void random_uuid(uint8_t u[16])
{
	size_t got = 0;
	while (got < 16) {
		ssize_t n = getrandom(u + got, 16 - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			break;
	}
	if (got < 16) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t v[2] = {(uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32), (uint64_t)ts.tv_nsec};
		memcpy(u, v, 16);
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

vmk_config *vmk_config_new(void)
{
	struct vmk_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->cpu_count = 1;
	cfg->memory_size = 512 * MiB;
	cfg->reboot_action = VMK_REBOOT_RESTART;
	random_uuid(cfg->machine_id);
	return cfg;
}

vmk_config *vmk_config_copy(const vmk_config *cfg)
{
	struct vmk_config *copy;

	if (!cfg)
		return NULL;
	copy = vmk_config_new();
	if (!copy)
		return NULL;
	copy->cpu_count = cfg->cpu_count;
	copy->memory_size = cfg->memory_size;
	copy->reboot_action = cfg->reboot_action;
	memcpy(copy->machine_id, cfg->machine_id, sizeof(copy->machine_id));
	if (cfg->boot_loader) {
		copy->boot_loader = vmk_boot_loader_copy(cfg->boot_loader);
		if (!copy->boot_loader)
			goto oom;
	}
	for (size_t i = 0; i < cfg->serial_port_count; i++) {
		copy->serial_ports[i] = vmk_serial_port_copy(cfg->serial_ports[i]);
		if (!copy->serial_ports[i])
			goto oom;
		copy->serial_port_count++;
	}
	for (size_t i = 0; i < cfg->storage_count; i++) {
		copy->storage[i] = vmk_storage_device_copy(cfg->storage[i]);
		if (!copy->storage[i])
			goto oom;
		copy->storage_count++;
	}
	for (size_t i = 0; i < cfg->network_count; i++) {
		copy->network[i] = vmk_network_device_copy(cfg->network[i]);
		if (!copy->network[i])
			goto oom;
		copy->network_count++;
	}
	copy->entropy = cfg->entropy;
	copy->balloon = cfg->balloon;
	if (cfg->vsock && !(copy->vsock = vmk_socket_device_copy(cfg->vsock)))
		goto oom;
	memcpy(copy->input, cfg->input, sizeof(copy->input));
	copy->input_count = cfg->input_count;
	memcpy(copy->graphics, cfg->graphics, sizeof(copy->graphics));
	copy->graphics_count = cfg->graphics_count;
	for (size_t i = 0; i < cfg->fs_count; i++) {
		if (!(copy->fs[i] = vmk_fs_device_copy(cfg->fs[i])))
			goto oom;
		copy->fs_count++;
	}
	return copy;
oom:
	vmk_config_free(copy);
	return NULL;
}

void vmk_config_free(vmk_config *cfg)
{
	if (!cfg)
		return;
	vmk_boot_loader_free(cfg->boot_loader);
	for (size_t i = 0; i < cfg->serial_port_count; i++)
		vmk_serial_port_free(cfg->serial_ports[i]);
	for (size_t i = 0; i < cfg->storage_count; i++)
		vmk_storage_device_free(cfg->storage[i]);
	for (size_t i = 0; i < cfg->network_count; i++)
		vmk_network_device_free(cfg->network[i]);
	vmk_socket_device_free(cfg->vsock);
	for (size_t i = 0; i < cfg->fs_count; i++)
		vmk_fs_device_free(cfg->fs[i]);
	free(cfg);
}

void vmk_config_set_machine_identifier(vmk_config *cfg, const uint8_t id[16])
{
	if (cfg && id)
		memcpy(cfg->machine_id, id, sizeof(cfg->machine_id));
}

void vmk_config_get_machine_identifier(const vmk_config *cfg, uint8_t id[16])
{
	if (cfg && id)
		memcpy(id, cfg->machine_id, sizeof(cfg->machine_id));
}

void vmk_config_set_cpu_count(vmk_config *cfg, unsigned count)
{
	if (cfg)
		cfg->cpu_count = count;
}

unsigned vmk_config_get_cpu_count(const vmk_config *cfg)
{
	return cfg ? cfg->cpu_count : 0;
}

void vmk_config_set_memory_size(vmk_config *cfg, uint64_t bytes)
{
	if (cfg)
		cfg->memory_size = bytes;
}

uint64_t vmk_config_get_memory_size(const vmk_config *cfg)
{
	return cfg ? cfg->memory_size : 0;
}

void vmk_config_set_boot_loader(vmk_config *cfg, const vmk_boot_loader *bl)
{
	struct vmk_boot_loader *copy = NULL;

	if (!cfg)
		return;
	if (bl) {
		copy = vmk_boot_loader_copy(bl);
		/* Out of memory: keep the old one rather than silently losing it. */
		if (!copy)
			return;
	}
	vmk_boot_loader_free(cfg->boot_loader);
	cfg->boot_loader = copy;
}

const vmk_boot_loader *vmk_config_get_boot_loader(const vmk_config *cfg)
{
	return cfg ? cfg->boot_loader : NULL;
}

static size_t count_kind(const vmk_config *cfg, vmk_serial_port_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->serial_port_count; i++)
		n += cfg->serial_ports[i]->kind == kind;
	return n;
}

bool vmk_config_add_serial_port(vmk_config *cfg, const vmk_serial_port *port, vmk_error **err)
{
	struct vmk_serial_port *copy;
	const char *field = "serial_ports";

	if (!cfg || !port)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s is NULL",
				     cfg ? "serial port" : "configuration");
	if (port->kind != VMK_SERIAL_PORT_16550 && port->kind != VMK_SERIAL_PORT_VIRTIO_CONSOLE)
		return vmk_set_error(err, VMK_ERR_SERIAL_PORT, field, "%s: unknown serial port kind %d",
				     field, (int)port->kind);
	if (port->kind == VMK_SERIAL_PORT_16550 &&
	    count_kind(cfg, VMK_SERIAL_PORT_16550) >= VMK_MAX_16550_PORTS)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, field,
				     "%s: at most %d 16550 ports (COM1-COM4) are supported", field,
				     VMK_MAX_16550_PORTS);
	if (cfg->serial_port_count >= VMK_MAX_SERIAL_PORTS)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, field, "%s: at most %d serial ports", field,
				     VMK_MAX_SERIAL_PORTS);
	copy = vmk_serial_port_copy(port);
	if (!copy)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory copying the port",
				     field);
	cfg->serial_ports[cfg->serial_port_count++] = copy;
	return true;
}

size_t vmk_config_get_serial_port_count(const vmk_config *cfg)
{
	return cfg ? cfg->serial_port_count : 0;
}

void vmk_config_set_reboot_action(vmk_config *cfg, vmk_reboot_action action)
{
	if (cfg)
		cfg->reboot_action = action;
}

vmk_reboot_action vmk_config_get_reboot_action(const vmk_config *cfg)
{
	return cfg ? cfg->reboot_action : VMK_REBOOT_RESTART;
}
