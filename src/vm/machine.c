/* Building, running and tearing down one x86 machine on KVM. */
#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "arch/x86/smbios.h"
#include "arch/x86/x86.h"
#include "boot/firmware.h"
#include "boot/linux.h"
#include "platform/lpc.h"
#include "util/error_priv.h"
#include "vm/machine_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

/* Where QEMU puts them, below the firmware flash that ends at 4 GiB;
 * firmware_e820() reserves these pages. */
#define KVM_TSS_ADDR	      0xfeffd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL
#define FLASH_CODE_SLOT	      2
#define FLASH_VARS_SLOT	      3
#define S5_SLP_TYP	      0

static const struct {
	uint16_t port;
	uint8_t irq;
} com_ports[VMK_MAX_16550_PORTS] = {{0x3f8, 4}, {0x2f8, 3}, {0x3e8, 4}, {0x2e8, 3}};

void machine_latch_exit(struct machine *m, enum machine_exit why, const char *fmt, ...)
{
	pthread_mutex_lock(&m->ctl.lock);
	bool first = m->exit_reason == MEXIT_NONE;
	if (first) {
		m->exit_reason = why;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->exit_detail, sizeof(m->exit_detail), fmt, ap);
		va_end(ap);
	}
	atomic_store(&m->ctl.stop, true);
	pthread_cond_broadcast(&m->ctl.cond);
	pthread_mutex_unlock(&m->ctl.lock);
	for (unsigned i = 0; m->vcpus && i < m->ncpus; i++)
		vcpu_kick(&m->vcpus[i]);
	if (first && why != MEXIT_HOST_STOP && m->ev.exited)
		m->ev.exited(m->ev_ctx);
}

/* A vCPU's report of the exit that ends the machine. */
static void vcpu_ended(void *ctx, enum machine_exit why, const char *detail)
{
	machine_latch_exit(ctx, why, "%s", detail);
}

static void hook_set_irq(void *ctx, unsigned gsi, int level)
{
	struct machine *m = ctx;
	struct kvm_irq_level irq = {.irq = gsi, .level = (uint32_t)level};
	ioctl(m->vm_fd, KVM_IRQ_LINE, &irq);
}

static void hook_system_event(void *ctx, enum platform_event ev)
{
	struct machine *m = ctx;
	if (ev == PLATFORM_EV_POWEROFF)
		machine_latch_exit(m, MEXIT_POWEROFF, "guest powered off (ACPI S5)");
	else
		machine_latch_exit(m, MEXIT_RESET, "guest requested a reset");
}

static void serial_want_input(void *ctx, bool more);

static void serial_readable(void *ctx, uint32_t events)
{
	struct serial_link *s = ctx;
	uint8_t buf[64];
	size_t space = uart_rx_space(s->uart);
	if (space == 0) {
		serial_want_input(s, false);
		return;
	}
	if (space > sizeof(buf))
		space = sizeof(buf);
	ssize_t r = read(s->in_fd, buf, space);
	if (r > 0) {
		uart_receive(s->uart, buf, (size_t)r);
	} else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLERR)) {
		/* End of input: the guest simply receives nothing more. */
		if (s->watching)
			evloop_del_fd(s->m->loop, s->in_fd);
		s->watching = false;
		s->in_fd = -1;
	}
}

/* The UART's flow control: stop polling the host fd while its FIFO is full
 * so input waits in the fd instead of being dropped. */
static void serial_want_input(void *ctx, bool more)
{
	struct serial_link *s = ctx;
	if (s->in_fd < 0)
		return;
	if (more && !s->watching)
		s->watching = evloop_add_fd(s->m->loop, s->in_fd, EPOLLIN, serial_readable, s) == 0;
	else if (!more && s->watching) {
		s->watching = false;
		evloop_del_fd(s->m->loop, s->in_fd);
	}
}

static bool machine_setup_serial(struct machine *m, const int (*fds)[2], vmk_error **err)
{
	for (size_t i = 0; i < m->cfg->serial_port_count; i++) {
		if (m->cfg->serial_ports[i]->kind != VMK_SERIAL_PORT_16550)
			continue;
		if (m->nserial == VMK_MAX_16550_PORTS)
			return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, "serial_ports",
					     "more than %d 16550 ports", VMK_MAX_16550_PORTS);
		struct serial_link *s = &m->serial[m->nserial];
		s->m = m;
		s->in_fd = fds[i][0];
		s->out_fd = fds[i][1];
		s->log_fd = -1;
		s->uart = uart_new(com_ports[m->nserial].port, com_ports[m->nserial].irq, &m->hooks,
				   s->out_fd, serial_want_input, s);
		if (!s->uart)
			return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "serial_ports", "out of memory");
		m->nserial++;
		if (uart_attach(s->uart, &m->pio) < 0)
			return vmk_set_error(err, VMK_ERR_INTERNAL, "serial_ports", "port 0x%x taken",
					     com_ports[m->nserial - 1].port);
	}
	return true;
}

/* UEFI: the firmware flash ends at 4 GiB, code on top and the variable
 * store below it, as on QEMU, where OVMF expects them. The code is a
 * read-only memory slot so it runs at full speed; the variable store
 * exits on every access, which is what lets its writes be seen. */
static void acpi_params_fill(struct machine *m, struct acpi_params *ap, struct acpi_serial *ser)
{
	for (unsigned i = 0; i < m->nserial; i++)
		ser[i] = (struct acpi_serial){.port = com_ports[i].port, .irq = com_ports[i].irq};
	*ap = (struct acpi_params){
	    .ncpus = m->ncpus,
	    .ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
	    .lapic_addr = (uint32_t)LAYOUT_LAPIC,
	    .pm_base = LAYOUT_PM_BASE,
	    .sci_irq = LAYOUT_SCI_IRQ,
	    .reset_port = LAYOUT_RESET_PORT,
	    .reset_value = 0x06,
	    .s5_slp_typ = S5_SLP_TYP,
	    .serial = ser,
	    .nserial = m->nserial,
	    .ecam_base = LAYOUT_ECAM,
	    .pci_win_base = (uint32_t)LAYOUT_PCI_WIN,
	    .pci_win_size = (uint32_t)LAYOUT_PCI_WIN_SIZE,
	};
}

/* The variable store's read-array mapping (pflash.c explains why). */
static bool map_vars(void *ctx, bool map)
{
	struct machine *m = ctx;
	struct kvm_userspace_memory_region r = {
	    .slot = FLASH_VARS_SLOT,
	    .flags = KVM_MEM_READONLY,
	    .guest_phys_addr = pflash_base(m->flash_vars),
	    .memory_size = map ? pflash_size(m->flash_vars) : 0,
	    .userspace_addr = (uint64_t)(uintptr_t)pflash_host(m->flash_vars),
	};
	return ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0;
}

/* The SMBIOS description: one socket of N cores (cpuid.c's topology), the
 * RAM ranges, the configuration's machine identifier. */
static void smbios_params_fill(struct machine *m, struct smbios_params *sp, struct smbios_region ram[2])
{
	*sp = (struct smbios_params){
	    .version = vmk_version(),
	    .bios = m->cfg->boot_loader->kind != VMK_BOOT_LOADER_EFI,
	    .sockets = 1,
	    .cores_per_socket = m->ncpus,
	    .threads_per_core = 1,
	    .ram = ram,
	};
	memcpy(sp->uuid, m->cfg->machine_id, sizeof(sp->uuid));
	smbios_host_cpu(sp);
	ram[0] = (struct smbios_region){0, gmem_below_4g(&m->mem)};
	ram[1] = (struct smbios_region){LAYOUT_HIGHMEM, gmem_above_4g(&m->mem)};
	sp->nram = ram[1].len ? 2 : 1;
}

static bool machine_setup_efi(struct machine *m, vmk_error **err)
{
	struct acpi_serial ser[VMK_MAX_16550_PORTS];
	struct acpi_params ap;
	acpi_params_fill(m, &ap, ser);
	const struct vmk_boot_loader *bl = m->cfg->boot_loader;
	m->flash_code = pflash_new(bl->firmware, false, 0, "boot_loader.firmware", err);
	if (!m->flash_code)
		return false;
	uint64_t code_base = (1ULL << 32) - pflash_size(m->flash_code);
	m->flash_vars = pflash_new(bl->variable_store, true, 0, "boot_loader.variable_store", err);
	if (!m->flash_vars)
		return false;
	uint64_t vars_base = code_base - pflash_size(m->flash_vars);
	if (vars_base < KVM_TSS_ADDR + 0x3000)
		return vmk_set_error(err, VMK_ERR_FIRMWARE, "boot_loader.firmware",
				     "firmware and variable store together are too big");
	pflash_set_base(m->flash_code, code_base);
	pflash_set_base(m->flash_vars, vars_base);
	struct kvm_userspace_memory_region r = {
	    .slot = FLASH_CODE_SLOT,
	    .flags = KVM_MEM_READONLY,
	    .guest_phys_addr = code_base,
	    .memory_size = pflash_size(m->flash_code),
	    .userspace_addr = (uint64_t)(uintptr_t)pflash_host(m->flash_code),
	};
	if (ioctl(m->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
		return vmk_set_error(err, VMK_ERR_NOT_SUPPORTED, "boot_loader",
				     "this KVM cannot map read-only memory, which UEFI firmware needs");
	if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return vmk_set_errno(err, VMK_ERR_KVM, "boot_loader", errno, "cannot map the firmware");
	if (pflash_attach(m->flash_code, &m->mmio) < 0 || pflash_attach(m->flash_vars, &m->mmio) < 0)
		return vmk_set_error(err, VMK_ERR_INTERNAL, "boot_loader", "flash range taken");
	if (!pflash_set_map_hook(m->flash_vars, map_vars, m))
		return vmk_set_errno(err, VMK_ERR_KVM, "boot_loader", errno, "cannot map the variable store");
	m->fw_cfg = fw_cfg_new(&m->pio, &m->mem);
	if (!m->fw_cfg)
		return vmk_set_error(err, VMK_ERR_INTERNAL, NULL, "cannot create fw_cfg");
	struct smbios_params sp;
	struct smbios_region ram[2];
	smbios_params_fill(m, &sp, ram);
	if (!firmware_fw_cfg_setup(m->fw_cfg, &m->mem, m->ncpus, &ap, err) ||
	    !firmware_add_smbios(m->fw_cfg, &sp, err))
		return false;
	m->lpc = lpc_new(m->pci);
	if (!m->lpc)
		return vmk_set_error(err, VMK_ERR_INTERNAL, NULL, "cannot add the LPC bridge");
	return true;
}

static bool machine_setup_platform(struct machine *m, vmk_error **err)
{
	m->rtc = rtc_new(&m->pio, &m->hooks, gmem_below_4g(&m->mem), gmem_above_4g(&m->mem), m->ncpus);
	m->ps2_tfd = -1; /* before anything can fail: machine_free_devices closes it */
	m->kbd = i8042_new(&m->pio, &m->hooks);
	m->pm = pm_new(&m->pio, &m->hooks, LAYOUT_PM_BASE, LAYOUT_SCI_IRQ, S5_SLP_TYP);
	if (!m->rtc || !m->kbd || !m->pm)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "cannot create platform devices");

	struct acpi_serial ser[VMK_MAX_16550_PORTS];
	struct acpi_params ap;
	acpi_params_fill(m, &ap, ser);
	/* UEFI firmware gets the tables through fw_cfg (machine_setup_efi). */
	if (m->cfg->boot_loader && m->cfg->boot_loader->kind == VMK_BOOT_LOADER_EFI)
		return true;
	uint8_t *acpi = gmem_ptr(&m->mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
	if (!acpi || acpi_build(acpi, LAYOUT_ACPI_SIZE, LAYOUT_ACPI, &ap) == 0)
		return vmk_set_error(err, VMK_ERR_INTERNAL, NULL, "ACPI tables do not fit");
	/* Without firmware, the SMBIOS entry point goes where Linux scans for it. */
	struct smbios_params sp;
	struct smbios_region ram[2];
	smbios_params_fill(m, &sp, ram);
	uint8_t *smbios = gmem_ptr(&m->mem, LAYOUT_SMBIOS, LAYOUT_SMBIOS_SIZE);
	if (!smbios || smbios_build(smbios, LAYOUT_SMBIOS_SIZE, LAYOUT_SMBIOS, &sp) == 0)
		return vmk_set_error(err, VMK_ERR_INTERNAL, NULL, "SMBIOS tables do not fit");
	return true;
}

static bool machine_setup_vcpus(struct machine *m, vmk_error **err)
{
	int run_size = ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		return vmk_set_errno(err, VMK_ERR_KVM, NULL, errno, "KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_cpuid2 *cpuid = cpuid_supported(m->kvm_fd);
	if (!cpuid)
		return vmk_set_errno(err, VMK_ERR_KVM, NULL, errno, "KVM_GET_SUPPORTED_CPUID");
	m->vcpus = calloc(m->ncpus, sizeof(*m->vcpus));
	if (!m->vcpus) {
		free(cpuid);
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
	}
	for (unsigned i = 0; i < m->ncpus; i++)
		m->vcpus[i].fd = -1;
	for (unsigned i = 0; i < m->ncpus; i++) {
		int r = vcpu_create(&m->vcpus[i], &m->vcpu_host, m->vm_fd, (size_t)run_size, i);
		if (r == 0)
			r = cpuid_set(m->vcpus[i].fd, cpuid, i, m->ncpus);
		if (r == 0)
			r = regs_set_msrs(m->vcpus[i].fd);
		if (r < 0) {
			free(cpuid);
			return vmk_set_errno(err, VMK_ERR_KVM, "cpu_count", -r, "cannot set up vCPU %u", i);
		}
	}
	free(cpuid);
	return true;
}

static bool machine_setup_kvm(struct machine *m, vmk_error **err)
{
	m->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (m->kvm_fd < 0)
		return vmk_set_errno(err, errno == ENOENT ? VMK_ERR_NO_KVM : VMK_ERR_KVM_PERMISSION, NULL,
				     errno, "/dev/kvm");
	if (ioctl(m->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return vmk_set_error(err, VMK_ERR_KVM, NULL, "/dev/kvm: unsupported KVM API version");
	m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, 0);
	if (m->vm_fd < 0)
		return vmk_set_errno(err, VMK_ERR_KVM, NULL, errno, "KVM_CREATE_VM");
	/* Intel VMX needs these pages below 4 GiB for real-mode emulation. */
	ioctl(m->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR);
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	ioctl(m->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (ioctl(m->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return vmk_set_errno(err, VMK_ERR_KVM, NULL, errno, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = {.flags = 0};
	if (ioctl(m->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return vmk_set_errno(err, VMK_ERR_KVM, NULL, errno, "KVM_CREATE_PIT2");
	int r = irq_router_init(&m->irq, m->vm_fd);
	if (r < 0)
		return vmk_set_errno(err, VMK_ERR_KVM, NULL, -r, "KVM_SET_GSI_ROUTING");
	m->irq_ready = true;
	r = gmem_init(&m->mem, m->cfg->memory_size);
	if (r < 0)
		return vmk_set_errno(err, VMK_ERR_OUT_OF_MEMORY, "memory_size", -r, "cannot map %llu bytes",
				     (unsigned long long)m->cfg->memory_size);
	r = gmem_register(&m->mem, m->vm_fd);
	if (r < 0)
		return vmk_set_errno(err, VMK_ERR_KVM, "memory_size", -r, "KVM_SET_USER_MEMORY_REGION");
	return true;
}

struct machine *machine_create(const struct vmk_config *cfg, const int (*serial_fds)[2], struct evloop *loop,
			       const struct machine_events *ev, void *ctx, vmk_error **err)
{
	struct machine *m = calloc(1, sizeof(*m));
	if (!m) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
		return NULL;
	}
	m->cfg = cfg;
	m->loop = loop;
	m->ev = *ev;
	m->ev_ctx = ctx;
	m->kvm_fd = m->vm_fd = -1;
	m->ncpus = cfg->cpu_count;
	pthread_mutex_init(&m->ctl.lock, NULL);
	pthread_cond_init(&m->ctl.cond, NULL);
	m->vcpu_host =
	    (struct vcpu_host){.pio = &m->pio, .mmio = &m->mmio, .ctl = &m->ctl, .end = vcpu_ended, .ctx = m};
	m->hooks =
	    (struct platform_hooks){.ctx = m, .set_irq = hook_set_irq, .system_event = hook_system_event};

	struct linux_boot boot;
	if (!m->cfg->boot_loader) {
		vmk_set_error(err, VMK_ERR_NO_BOOT_LOADER, "boot_loader", "no boot loader");
		goto fail;
	}
	bool efi = m->cfg->boot_loader->kind == VMK_BOOT_LOADER_EFI;
	if (!machine_setup_kvm(m, err) || !machine_setup_vcpus(m, err) ||
	    !machine_setup_serial(m, serial_fds, err) || !machine_setup_platform(m, err) ||
	    !machine_setup_devices(m, serial_fds, err) || (efi && !machine_setup_efi(m, err)))
		goto fail;
	/* The firmware starts at the reset vector: the vCPUs keep KVM's reset state. */
	if (efi)
		return m;
	if (!linux_load(&m->mem, m->cfg->boot_loader, LAYOUT_ACPI, &boot, err))
		goto fail;
	int r = regs_write_boot_tables(&m->mem);
	if (r == 0)
		r = regs_set_long_mode(m->vcpus[0].fd, boot.entry, boot.zero_page);
	if (r < 0) {
		vmk_set_errno(err, VMK_ERR_KVM, NULL, -r, "cannot set the boot vCPU's registers");
		goto fail;
	}
	return m;
fail:
	machine_destroy(m);
	return NULL;
}

bool machine_start(struct machine *m, vmk_error **err)
{
	for (unsigned i = 0; i < m->nserial; i++)
		serial_want_input(&m->serial[i], true);
	pthread_mutex_lock(&m->ctl.lock);
	m->threads_started = true;
	pthread_mutex_unlock(&m->ctl.lock);
	for (unsigned i = 0; i < m->ncpus; i++) {
		pthread_mutex_lock(&m->ctl.lock);
		m->ctl.running_threads++;
		pthread_mutex_unlock(&m->ctl.lock);
		int r = vcpu_start_thread(&m->vcpus[i]);
		if (r < 0) {
			pthread_mutex_lock(&m->ctl.lock);
			m->ctl.running_threads--;
			pthread_mutex_unlock(&m->ctl.lock);
			machine_latch_exit(m, MEXIT_VMM_ERROR, "cannot start vCPU thread %u", i);
			return vmk_set_errno(err, VMK_ERR_INTERNAL, NULL, -r, "cannot start vCPU thread %u",
					     i);
		}
	}
	return true;
}

void machine_pause(struct machine *m)
{
	pthread_mutex_lock(&m->ctl.lock);
	m->ctl.pause = true;
	pthread_mutex_unlock(&m->ctl.lock);
	for (unsigned i = 0; i < m->ncpus; i++)
		vcpu_kick(&m->vcpus[i]);
	pthread_mutex_lock(&m->ctl.lock);
	while (m->ctl.parked < m->ctl.running_threads && !atomic_load(&m->ctl.stop))
		pthread_cond_wait(&m->ctl.cond, &m->ctl.lock);
	pthread_mutex_unlock(&m->ctl.lock);
}

void machine_resume(struct machine *m)
{
	pthread_mutex_lock(&m->ctl.lock);
	m->ctl.pause = false;
	pthread_cond_broadcast(&m->ctl.cond);
	pthread_mutex_unlock(&m->ctl.lock);
}

void machine_power_button(struct machine *m)
{
	pm_press_power_button(m->pm);
}

void machine_stop(struct machine *m)
{
	machine_latch_exit(m, MEXIT_HOST_STOP, "stopped by the host");
	for (unsigned i = 0; i < m->ncpus; i++)
		vcpu_join(&m->vcpus[i]);
}

enum machine_exit machine_exit_reason(struct machine *m, const char **detail)
{
	pthread_mutex_lock(&m->ctl.lock);
	enum machine_exit r = m->exit_reason;
	pthread_mutex_unlock(&m->ctl.lock);
	if (detail)
		*detail = m->exit_detail;
	return r;
}

void machine_destroy(struct machine *m)
{
	if (!m)
		return;
	if (m->vcpus)
		machine_stop(m);
	for (unsigned i = 0; i < m->nserial; i++) {
		serial_want_input(&m->serial[i], false);
		uart_free(m->serial[i].uart);
	}
	machine_free_devices(m);
	lpc_free(m->lpc);
	fw_cfg_free(m->fw_cfg);
	/* After the vCPUs stopped: the last variable writes reach the file. */
	pflash_free(m->flash_vars);
	pflash_free(m->flash_code);
	if (m->irq_ready)
		irq_router_destroy(&m->irq);
	for (unsigned i = 0; m->vcpus && i < m->ncpus; i++)
		vcpu_destroy(&m->vcpus[i]);
	free(m->vcpus);
	rtc_free(m->rtc);
	i8042_free(m->kbd);
	pm_free(m->pm);
	gmem_destroy(&m->mem);
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	if (m->kvm_fd >= 0)
		close(m->kvm_fd);
	pthread_mutex_destroy(&m->ctl.lock);
	pthread_cond_destroy(&m->ctl.cond);
	free(m);
}
