/* vmk_config_validate(): checks a configuration against this host and the
 * files it names, and reports every problem, each with its own code and
 * field, so a user fixes them all in one round. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "config/config_priv.h"
#include "config/efi_priv.h"
#include "config/network_priv.h"
#include "config/storage_priv.h"
#include "util/error_priv.h"

#define MiB	   (1024ull * 1024)
#define MIN_MEMORY (32 * MiB)
/* We describe CPUs with xAPIC ids (8 bits, 0xff is broadcast). */
#define XAPIC_MAX_CPUS 255

static unsigned max_cpus = XAPIC_MAX_CPUS;
static pthread_once_t max_cpus_once = PTHREAD_ONCE_INIT;

static void probe_max_cpus(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int n;

	if (fd < 0)
		return;
	n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	close(fd);
	if (n > 0 && (unsigned)n < max_cpus)
		max_cpus = (unsigned)n;
}

unsigned vmk_config_min_cpu_count(void)
{
	return 1;
}

unsigned vmk_config_max_cpu_count(void)
{
	pthread_once(&max_cpus_once, probe_max_cpus);
	return max_cpus;
}

uint64_t vmk_config_min_memory_size(void)
{
	return MIN_MEMORY;
}

uint64_t vmk_config_max_memory_size(void)
{
	struct sysinfo si;

	if (sysinfo(&si) != 0)
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit;
}

static void check_cpus(const vmk_config *cfg, vmk_error **err)
{
	unsigned max = vmk_config_max_cpu_count();

	if (cfg->cpu_count < vmk_config_min_cpu_count())
		vmk_set_error(err, VMK_ERR_CPU_COUNT, "cpu_count", "cpu_count: %u is below the minimum of %u",
			      cfg->cpu_count, vmk_config_min_cpu_count());
	else if (cfg->cpu_count > max)
		vmk_set_error(err, VMK_ERR_CPU_COUNT, "cpu_count",
			      "cpu_count: %u is above this host's maximum of %u", cfg->cpu_count, max);
}

static void check_memory(const vmk_config *cfg, vmk_error **err)
{
	uint64_t size = cfg->memory_size;
	uint64_t max = vmk_config_max_memory_size();

	if (size < MIN_MEMORY)
		vmk_set_error(
		    err, VMK_ERR_MEMORY_TOO_SMALL, "memory_size",
		    "memory_size: %llu bytes (%llu MiB) is below the minimum of %llu bytes (%llu MiB)",
		    (unsigned long long)size, (unsigned long long)(size / MiB),
		    (unsigned long long)MIN_MEMORY, (unsigned long long)(MIN_MEMORY / MiB));
	else if (size > max)
		vmk_set_error(
		    err, VMK_ERR_MEMORY_TOO_LARGE, "memory_size",
		    "memory_size: %llu bytes (%llu MiB) is more than the host's %llu bytes (%llu MiB)",
		    (unsigned long long)size, (unsigned long long)(size / MiB), (unsigned long long)max,
		    (unsigned long long)(max / MiB));
	if (size % MiB)
		vmk_set_error(err, VMK_ERR_MEMORY_ALIGNMENT, "memory_size",
			      "memory_size: %llu bytes is not a multiple of 1 MiB", (unsigned long long)size);
}

/* Opens a file the VM will read at start, saying precisely why it cannot. */
static int open_input(const char *path, vmk_error_code code, const char *field, vmk_error **err)
{
	struct stat st;
	int fd;

	if (!path || !*path) {
		vmk_set_error(err, code, field, "%s: no path given", field);
		return -1;
	}
	if (stat(path, &st) != 0) {
		vmk_set_errno(err, code, field, errno, "%s: %s", field, path);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		vmk_set_error(err, code, field, "%s: %s is a directory", field, path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		vmk_set_error(err, code, field, "%s: %s is not a regular file", field, path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		vmk_set_errno(err, code, field, errno, "%s: cannot open %s", field, path);
	return fd;
}

/* Checks the kernel file and the command line against its limit. */
static void check_kernel(const struct vmk_boot_loader *bl, vmk_error **err)
{
	const char *field = "boot_loader.kernel";
	struct bzimage_info info;
	const char *why = NULL;
	struct stat st;
	void *map;
	int fd;

	fd = open_input(bl->kernel, VMK_ERR_KERNEL_UNREADABLE, field, err);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || st.st_size == 0) {
		vmk_set_error(err, VMK_ERR_KERNEL_FORMAT, field,
			      "%s: %s is not an x86-64 bzImage: the file is empty", field, bl->kernel);
		close(fd);
		return;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		vmk_set_errno(err, VMK_ERR_KERNEL_UNREADABLE, field, errno, "%s: cannot read %s", field,
			      bl->kernel);
		return;
	}
	if (bzimage_parse(map, (size_t)st.st_size, &info, &why) != 0) {
		vmk_set_error(err, VMK_ERR_KERNEL_FORMAT, field, "%s: %s is not an x86-64 bzImage: %s", field,
			      bl->kernel, why);
	} else if (strlen(bl->cmdline) > info.cmdline_size) {
		vmk_set_error(err, VMK_ERR_CMDLINE_TOO_LONG, "boot_loader.cmdline",
			      "boot_loader.cmdline: %zu bytes is longer than the %u bytes %s accepts",
			      strlen(bl->cmdline), info.cmdline_size, bl->kernel);
	}
	munmap(map, (size_t)st.st_size);
}

static void check_linux(const struct vmk_boot_loader *bl, vmk_error **err)
{
	int fd;

	check_kernel(bl, err);
	if (bl->initrd) {
		fd = open_input(bl->initrd, VMK_ERR_INITRD_UNREADABLE, "boot_loader.initrd", err);
		if (fd >= 0)
			close(fd);
	}
}

static void check_efi(const struct vmk_boot_loader *bl, vmk_error **err)
{
	uint64_t code = 0, vars = 0;
	bool ok = efi_check_firmware(bl->firmware, "boot_loader.firmware", &code, err);
	ok &= efi_check_variable_store(bl->variable_store, true, "boot_loader.variable_store", &vars, err);
	if (ok && code + vars > EFI_FLASH_MAX)
		vmk_set_error(err, VMK_ERR_FIRMWARE, "boot_loader.firmware",
			      "boot_loader.firmware: %s and its variable store together exceed 16 MiB",
			      bl->firmware);
}

static void check_boot_loader(const vmk_config *cfg, vmk_error **err)
{
	const struct vmk_boot_loader *bl = cfg->boot_loader;

	if (!bl) {
		vmk_set_error(err, VMK_ERR_NO_BOOT_LOADER, "boot_loader", "boot_loader: none is set");
		return;
	}
	if (bl->kind == VMK_BOOT_LOADER_EFI) {
		check_efi(bl, err);
		return;
	}
	if (bl->kind != VMK_BOOT_LOADER_LINUX) {
		vmk_set_error(err, VMK_ERR_NOT_SUPPORTED, "boot_loader",
			      "boot_loader: kind %d is not supported", (int)bl->kind);
		return;
	}
	check_linux(bl, err);
}

/* The log file is opened when the VM starts; check now, without creating
 * or truncating it, that this will work. */
static void check_log_path(const char *path, const char *field, vmk_error **err)
{
	struct stat st;
	char *dir, *slash;

	if (!path || !*path) {
		vmk_set_error(err, VMK_ERR_SERIAL_ATTACHMENT, field, "%s: no log file path given", field);
		return;
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			vmk_set_error(err, VMK_ERR_SERIAL_ATTACHMENT, field, "%s: %s is a directory", field,
				      path);
		else if (access(path, W_OK) != 0)
			vmk_set_errno(err, VMK_ERR_SERIAL_ATTACHMENT, field, errno, "%s: cannot write %s",
				      field, path);
		return;
	}
	if (errno != ENOENT) {
		vmk_set_errno(err, VMK_ERR_SERIAL_ATTACHMENT, field, errno, "%s: %s", field, path);
		return;
	}
	dir = strdup(path);
	if (!dir) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, field, "%s: out of memory", field);
		return;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) != 0)
		vmk_set_errno(err, VMK_ERR_SERIAL_ATTACHMENT, field, errno, "%s: cannot create %s in %s",
			      field, path, dir);
	free(dir);
}

static void check_serial_ports(const vmk_config *cfg, vmk_error **err)
{
	char field[64];

	for (size_t i = 0; i < cfg->serial_port_count; i++) {
		const struct vmk_serial_port *p = cfg->serial_ports[i];
		const struct vmk_serial_attachment *a = p->attachment;

		snprintf(field, sizeof(field), "serial_ports[%zu]", i);
		if (p->kind != VMK_SERIAL_PORT_16550 && p->kind != VMK_SERIAL_PORT_VIRTIO_CONSOLE)
			vmk_set_error(err, VMK_ERR_SERIAL_PORT, field, "%s: unknown kind %d", field,
				      (int)p->kind);
		if (!a || a->kind != SERIAL_ATTACH_FILE)
			continue;
		snprintf(field, sizeof(field), "serial_ports[%zu].attachment", i);
		check_log_path(a->path, field, err);
	}
}

bool vmk_config_validate(const vmk_config *cfg, vmk_error **err)
{
	vmk_error *found = NULL;

	if (!cfg)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, NULL, "configuration is NULL");
	check_cpus(cfg, &found);
	check_memory(cfg, &found);
	check_boot_loader(cfg, &found);
	check_serial_ports(cfg, &found);
	storage_validate(cfg, &found);
	network_validate(cfg, &found);
	fs_validate(cfg, &found);
	graphics_validate(cfg, &found);
	if (cfg->reboot_action != VMK_REBOOT_RESTART && cfg->reboot_action != VMK_REBOOT_STOP)
		vmk_set_error(&found, VMK_ERR_INVALID_ARGUMENT, "reboot_action",
			      "reboot_action: %d is not valid", (int)cfg->reboot_action);
	if (!found)
		return true;
	if (err && !*err)
		*err = found;
	else if (err)
		vmk_error_free(found);
	return false;
}
