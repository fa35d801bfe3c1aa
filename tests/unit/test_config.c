/* Configuration objects, validation and the bzImage header parser: pure
 * functions over files in a scratch directory, no /dev/kvm needed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#include "check.h"
#include "config/config_priv.h"
#include "util/error_priv.h"

#define MiB (1024ull * 1024)

static char dir[] = "/tmp/vmkit-test-config-XXXXXX";
static char path_buf[8][512];

static const char *tmp_path(int slot, const char *name)
{
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", dir, name);
	return path_buf[slot];
}

/* A minimal bzImage: a header that satisfies our loader and some payload. */
static size_t make_bzimage(uint8_t *buf, size_t size, uint16_t protocol, uint16_t xloadflags,
			   uint32_t cmdline_size)
{
	memset(buf, 0, size);
	buf[0x1f1] = 1; /* setup_sects: setup is 1024 bytes */
	buf[0x1fe] = 0x55;
	buf[0x1ff] = 0xaa;
	memcpy(buf + 0x202, "HdrS", 4);
	buf[0x206] = protocol & 0xff;
	buf[0x207] = protocol >> 8;
	buf[0x211] = 0x01; /* LOADED_HIGH */
	buf[0x230] = 0x00; /* kernel_alignment 2 MiB */
	buf[0x232] = 0x20;
	buf[0x234] = 1;
	buf[0x236] = xloadflags & 0xff;
	buf[0x237] = xloadflags >> 8;
	memcpy(buf + 0x238, &cmdline_size, 4);
	buf[0x25a] = 0x00; /* pref_address 16 MiB */
	buf[0x25b] = 0x01;
	return size;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(99);
	}
	close(fd);
}

static int count_errors(const vmk_error *e)
{
	int n = 0;

	for (; e; e = vmk_error_next(e))
		n++;
	return n;
}

static const vmk_error *find_code(const vmk_error *e, vmk_error_code code)
{
	for (; e; e = vmk_error_next(e))
		if (vmk_error_get_code(e) == code)
			return e;
	return NULL;
}

/* A valid config with the given kernel, ready for one thing to be broken. */
static vmk_config *good_config(const char *kernel)
{
	vmk_config *cfg = vmk_config_new();
	vmk_boot_loader *bl = vmk_linux_boot_loader_new(kernel);

	vmk_linux_boot_loader_set_cmdline(bl, "console=ttyS0");
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	vmk_config_set_memory_size(cfg, 64 * MiB);
	return cfg;
}

/* Validates cfg and checks that exactly one error with this code and field came out. */
static void expect_one(vmk_config *cfg, vmk_error_code code, const char *field, const char *in_message,
		       const char *name)
{
	vmk_error *err = NULL;
	bool ok = vmk_config_validate(cfg, &err);
	char label[256];

	snprintf(label, sizeof(label), "%s -> %s", name, vmk_error_code_name(code));
	CHECK(!ok && count_errors(err) == 1 && vmk_error_get_code(err) == code &&
		  strcmp(vmk_error_get_field(err), field) == 0 &&
		  (!in_message || strstr(vmk_error_get_message(err), in_message)),
	      "%s", label);
	if (err && (count_errors(err) != 1 || vmk_error_get_code(err) != code))
		for (const vmk_error *e = err; e; e = vmk_error_next(e))
			printf("# got %s: %s\n", vmk_error_code_name(vmk_error_get_code(e)),
			       vmk_error_get_message(e));
	vmk_error_free(err);
	vmk_config_free(cfg);
}

static void test_errors(void)
{
	CHECK(strcmp(vmk_error_code_name(VMK_ERR_CPU_COUNT), "cpu-count") == 0, "code name cpu-count");
	CHECK(strcmp(vmk_error_code_name(VMK_ERR_MEMORY_TOO_SMALL), "memory-too-small") == 0,
	      "code name memory-too-small");
	CHECK(strcmp(vmk_error_code_name(VMK_ERR__COUNT), "unknown") == 0, "code name out of range");
	bool named = true;
	for (int c = 0; c < VMK_ERR__COUNT; c++)
		named = named && strcmp(vmk_error_code_name(c), "unknown") != 0;
	CHECK(named, "every code has a name");
	CHECK(vmk_error_get_code(NULL) == VMK_ERR_NONE && vmk_error_next(NULL) == NULL,
	      "NULL error accessors");
	vmk_error_free(NULL);
}

static void test_defaults_and_copy(void)
{
	vmk_config *cfg = vmk_config_new();
	vmk_boot_loader *bl = vmk_linux_boot_loader_new("/k1");
	vmk_config *copy;

	CHECK(vmk_config_get_cpu_count(cfg) == 1 && vmk_config_get_memory_size(cfg) == 512 * MiB &&
		  !vmk_config_get_boot_loader(cfg) && vmk_config_get_serial_port_count(cfg) == 0 &&
		  vmk_config_get_reboot_action(cfg) == VMK_REBOOT_RESTART,
	      "defaults: 1 cpu, 512 MiB, nothing attached, reboot restarts");
	CHECK(strcmp(vmk_linux_boot_loader_get_cmdline(bl), "") == 0 && !vmk_linux_boot_loader_get_initrd(bl),
	      "linux boot loader defaults");
	vmk_linux_boot_loader_set_initrd(bl, "/i1");
	vmk_linux_boot_loader_set_cmdline(bl, "a=1");
	vmk_config_set_boot_loader(cfg, bl);
	/* The config took a copy: changing the original changes nothing. */
	vmk_linux_boot_loader_set_cmdline(bl, "b=2");
	vmk_boot_loader_free(bl);
	CHECK(strcmp(vmk_linux_boot_loader_get_cmdline(vmk_config_get_boot_loader(cfg)), "a=1") == 0,
	      "config keeps its own boot loader copy");

	vmk_config_set_cpu_count(cfg, 2);
	copy = vmk_config_copy(cfg);
	vmk_config_set_cpu_count(cfg, 3);
	vmk_config_set_memory_size(cfg, 128 * MiB);
	vmk_config_set_reboot_action(cfg, VMK_REBOOT_STOP);
	bl = vmk_linux_boot_loader_new("/k2");
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	CHECK(vmk_config_get_cpu_count(copy) == 2 && vmk_config_get_memory_size(copy) == 512 * MiB &&
		  vmk_config_get_reboot_action(copy) == VMK_REBOOT_RESTART,
	      "copy unaffected by later scalar changes");
	CHECK(strcmp(vmk_linux_boot_loader_get_kernel(vmk_config_get_boot_loader(copy)), "/k1") == 0 &&
		  strcmp(vmk_linux_boot_loader_get_initrd(vmk_config_get_boot_loader(copy)), "/i1") == 0,
	      "copy unaffected by a new boot loader");
	vmk_config_free(cfg);
	CHECK(strcmp(vmk_linux_boot_loader_get_cmdline(vmk_config_get_boot_loader(copy)), "a=1") == 0,
	      "copy outlives the original");
	vmk_config_set_boot_loader(copy, NULL);
	CHECK(!vmk_config_get_boot_loader(copy), "NULL clears the boot loader");
	vmk_config_free(copy);
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_serial(void)
{
	vmk_config *cfg = vmk_config_new();
	vmk_error *err = NULL;
	vmk_serial_attachment *a;
	vmk_serial_port *p;
	int pipefd[2];
	int rfd, wfd;

	CHECK(pipe(pipefd) == 0, "pipe");
	a = vmk_serial_fd_attachment_new(pipefd[0], pipefd[1], &err);
	CHECK(a && !err && a->read_fd >= 0 && a->write_fd >= 0 && a->read_fd != pipefd[0] &&
		  a->write_fd != pipefd[1],
	      "fd attachment duplicates its descriptors");
	CHECK(fcntl(a->read_fd, F_GETFD) & FD_CLOEXEC, "duplicates are close-on-exec");
	close(pipefd[0]);
	close(pipefd[1]);
	rfd = a->read_fd;
	wfd = a->write_fd;
	CHECK(write(wfd, "x", 1) == 1, "duplicate works after the caller closed its fds");
	vmk_serial_attachment_free(a);
	CHECK(!fd_is_open(rfd) && !fd_is_open(wfd), "free closes the duplicates");

	a = vmk_serial_fd_attachment_new(pipefd[0], -1, &err);
	CHECK(!a && vmk_error_get_code(err) == VMK_ERR_SERIAL_ATTACHMENT &&
		  strstr(vmk_error_get_message(err), "read_fd"),
	      "closed fd -> serial-attachment");
	vmk_error_free(err);
	err = NULL;

	a = vmk_serial_fd_attachment_new(-1, 1, &err);
	CHECK(a && a->read_fd == -1 && a->write_fd >= 0, "-1 means no input");
	p = vmk_serial_port_new(VMK_SERIAL_PORT_16550, a);
	wfd = a->write_fd;
	vmk_serial_attachment_free(a);
	CHECK(p && p->attachment->write_fd != wfd && fd_is_open(p->attachment->write_fd),
	      "port keeps its own attachment copy");
	CHECK(vmk_serial_port_get_kind(p) == VMK_SERIAL_PORT_16550, "port kind");
	for (int i = 0; i < VMK_MAX_16550_PORTS; i++)
		CHECK(vmk_config_add_serial_port(cfg, p, &err), "add 16550 port");
	CHECK(!vmk_config_add_serial_port(cfg, p, &err) && vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED,
	      "fifth 16550 port -> limit-exceeded");
	vmk_error_free(err);
	err = NULL;
	/* Only reachable by a caller that scribbles on the struct; rejected all the same. */
	p->kind = 9;
	CHECK(!vmk_config_add_serial_port(cfg, p, &err) && vmk_error_get_code(err) == VMK_ERR_SERIAL_PORT,
	      "unknown port kind -> serial-port");
	p->kind = VMK_SERIAL_PORT_16550;
	vmk_error_free(err);
	err = NULL;
	wfd = cfg->serial_ports[0]->attachment->write_fd;
	vmk_config_free(cfg);
	CHECK(!fd_is_open(wfd), "config free closes its ports' descriptors");
	vmk_serial_port_free(p);
}

static void test_bzimage_parse(void)
{
	static uint8_t buf[4096];
	struct bzimage_info info;
	const char *why = NULL;

	make_bzimage(buf, sizeof(buf), 0x020f, 0x0003, 2047);
	CHECK(bzimage_parse(buf, sizeof(buf), &info, &why) == 0 && info.protocol == 0x020f &&
		  info.cmdline_size == 2047 && info.setup_size == 1024 && info.file_size == sizeof(buf) &&
		  info.pref_address == 0x1000000 && info.kernel_alignment == 0x200000 &&
		  info.relocatable == 1,
	      "bzimage_parse: good header");
	make_bzimage(buf, sizeof(buf), 0x0209, 0x0003, 2047);
	CHECK(bzimage_parse(buf, sizeof(buf), &info, &why) < 0 && strstr(why, "2.10"),
	      "bzimage_parse: protocol 2.09 rejected");
	make_bzimage(buf, sizeof(buf), 0x020f, 0x0002, 2047);
	CHECK(bzimage_parse(buf, sizeof(buf), &info, &why) < 0 && strstr(why, "64-bit"),
	      "bzimage_parse: no XLF_KERNEL_64 rejected");
	make_bzimage(buf, sizeof(buf), 0x020f, 0x0003, 2047);
	CHECK(bzimage_parse(buf, 1024, &info, &why) < 0 && strstr(why, "truncated"),
	      "bzimage_parse: file ending in the setup rejected");
	CHECK(bzimage_parse(buf, 0x100, &info, &why) < 0 && strstr(why, "short"),
	      "bzimage_parse: file shorter than the header rejected");
	buf[0x1f1] = 0;
	CHECK(bzimage_parse(buf, 2560, &info, &why) < 0 && bzimage_parse(buf, 2561, &info, &why) == 0 &&
		  info.setup_size == 2560,
	      "bzimage_parse: setup_sects 0 means 4");
	buf[0x202] = 'X';
	CHECK(bzimage_parse(buf, sizeof(buf), &info, &why) < 0 && strstr(why, "HdrS"),
	      "bzimage_parse: missing magic rejected");
	make_bzimage(buf, sizeof(buf), 0x020f, 0x0003, 2047);
	buf[0x1fe] = 0;
	CHECK(bzimage_parse(buf, sizeof(buf), &info, &why) < 0 && strstr(why, "0xAA55"),
	      "bzimage_parse: bad boot flag rejected");
	make_bzimage(buf, sizeof(buf), 0x020f, 0x0003, 2047);
	buf[0x211] = 0;
	CHECK(bzimage_parse(buf, sizeof(buf), &info, &why) < 0 && strstr(why, "loaded high"),
	      "bzimage_parse: not LOADED_HIGH rejected");
}

static void test_validate(void)
{
	static uint8_t buf[4096];
	const char *kernel = tmp_path(0, "bzImage");
	const char *old_kernel = tmp_path(1, "old-bzImage");
	const char *text = tmp_path(2, "notes.txt");
	const char *initrd = tmp_path(3, "initrd");
	const char *logdir_missing = tmp_path(4, "no-such-dir/console.log");
	const char *log = tmp_path(5, "console.log");
	vmk_error *err = NULL;
	vmk_config *cfg;
	vmk_boot_loader *bl;
	char cmdline[300];

	make_bzimage(buf, sizeof(buf), 0x020f, 0x0003, 255);
	write_file(kernel, buf, sizeof(buf));
	make_bzimage(buf, sizeof(buf), 0x0209, 0x0003, 255);
	write_file(old_kernel, buf, sizeof(buf));
	write_file(text, "hello, world\n", 13);
	write_file(initrd, "initrd", 6);

	cfg = good_config(kernel);
	CHECK(vmk_config_validate(cfg, &err) && !err, "valid config passes");
	vmk_config_free(cfg);
	CHECK(vmk_config_max_cpu_count() >= 1 && vmk_config_max_cpu_count() <= 255,
	      "max cpu count in 1..255");
	CHECK(vmk_config_min_memory_size() == 32 * MiB, "min memory 32 MiB");

	cfg = good_config(kernel);
	vmk_config_set_cpu_count(cfg, 0);
	expect_one(cfg, VMK_ERR_CPU_COUNT, "cpu_count", "cpu_count: 0", "0 cpus");
	cfg = good_config(kernel);
	vmk_config_set_cpu_count(cfg, vmk_config_max_cpu_count() + 1);
	expect_one(cfg, VMK_ERR_CPU_COUNT, "cpu_count", NULL, "max+1 cpus");
	cfg = good_config(kernel);
	vmk_config_set_memory_size(cfg, 16 * MiB);
	expect_one(cfg, VMK_ERR_MEMORY_TOO_SMALL, "memory_size", "16777216 bytes", "16 MiB");
	cfg = good_config(kernel);
	vmk_config_set_memory_size(cfg, 32 * MiB + 1);
	expect_one(cfg, VMK_ERR_MEMORY_ALIGNMENT, "memory_size",
		   "memory_size: 33554433 bytes is not a multiple of 1 MiB", "unaligned memory");
	cfg = good_config(kernel);
	vmk_config_set_memory_size(cfg, vmk_config_max_memory_size() + 1024 * MiB);
	vmk_config_set_memory_size(cfg, vmk_config_get_memory_size(cfg) & ~(MiB - 1));
	expect_one(cfg, VMK_ERR_MEMORY_TOO_LARGE, "memory_size", NULL, "more than host memory");
	cfg = good_config(kernel);
	vmk_config_set_boot_loader(cfg, NULL);
	expect_one(cfg, VMK_ERR_NO_BOOT_LOADER, "boot_loader", NULL, "no boot loader");
	expect_one(good_config(tmp_path(6, "missing")), VMK_ERR_KERNEL_UNREADABLE, "boot_loader.kernel",
		   "No such file", "missing kernel");
	expect_one(good_config(dir), VMK_ERR_KERNEL_UNREADABLE, "boot_loader.kernel", "is a directory",
		   "directory as kernel");
	if (geteuid() != 0) {
		const char *secret = tmp_path(7, "secret");

		write_file(secret, buf, sizeof(buf));
		chmod(secret, 0);
		expect_one(good_config(secret), VMK_ERR_KERNEL_UNREADABLE, "boot_loader.kernel",
			   "Permission denied", "unreadable kernel");
	} else {
		printf("# skipping the permission check: root reads everything\n");
	}
	expect_one(good_config(text), VMK_ERR_KERNEL_FORMAT, "boot_loader.kernel", "notes.txt",
		   "text file as kernel");
	expect_one(good_config(old_kernel), VMK_ERR_KERNEL_FORMAT, "boot_loader.kernel", "2.10",
		   "protocol 2.09 kernel");

	cfg = good_config(kernel);
	bl = vmk_boot_loader_copy(vmk_config_get_boot_loader(cfg));
	vmk_linux_boot_loader_set_initrd(bl, tmp_path(6, "missing-initrd"));
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	expect_one(cfg, VMK_ERR_INITRD_UNREADABLE, "boot_loader.initrd", "missing-initrd", "missing initrd");

	memset(cmdline, 'a', sizeof(cmdline));
	cmdline[255] = '\0';
	cfg = good_config(kernel);
	bl = vmk_boot_loader_copy(vmk_config_get_boot_loader(cfg));
	vmk_linux_boot_loader_set_cmdline(bl, cmdline);
	vmk_linux_boot_loader_set_initrd(bl, initrd);
	vmk_config_set_boot_loader(cfg, bl);
	CHECK(vmk_config_validate(cfg, NULL), "cmdline of exactly cmdline_size bytes passes");
	cmdline[255] = 'a';
	cmdline[256] = '\0';
	vmk_linux_boot_loader_set_cmdline(bl, cmdline);
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	expect_one(cfg, VMK_ERR_CMDLINE_TOO_LONG, "boot_loader.cmdline", "256 bytes",
		   "cmdline one byte too long");

	cfg = good_config(kernel);
	{
		vmk_serial_attachment *ok = vmk_serial_file_attachment_new(log, false);
		vmk_serial_attachment *bad = vmk_serial_file_attachment_new(logdir_missing, true);
		vmk_serial_port *p1 = vmk_serial_port_new(VMK_SERIAL_PORT_16550, ok);
		vmk_serial_port *p2 = vmk_serial_port_new(VMK_SERIAL_PORT_16550, bad);
		struct stat st;

		vmk_config_add_serial_port(cfg, p1, NULL);
		vmk_config_add_serial_port(cfg, p2, NULL);
		vmk_serial_port_free(p1);
		vmk_serial_port_free(p2);
		vmk_serial_attachment_free(ok);
		vmk_serial_attachment_free(bad);
		expect_one(cfg, VMK_ERR_SERIAL_ATTACHMENT, "serial_ports[1].attachment", "no-such-dir",
			   "log file in a missing directory");
		CHECK(stat(log, &st) != 0, "validate does not create the log file");
	}

	/* Three problems at once: all three reported, in order. */
	cfg = good_config(tmp_path(6, "missing"));
	vmk_config_set_cpu_count(cfg, 0);
	vmk_config_set_memory_size(cfg, 64 * MiB + 4096);
	CHECK(!vmk_config_validate(cfg, &err) && count_errors(err) == 3 &&
		  vmk_error_get_code(err) == VMK_ERR_CPU_COUNT && find_code(err, VMK_ERR_MEMORY_ALIGNMENT) &&
		  find_code(err, VMK_ERR_KERNEL_UNREADABLE),
	      "three problems give a chain of three errors");
	{
		vmk_error *copy = vmk_error_copy(err);

		CHECK(count_errors(copy) == 3 &&
			  strcmp(vmk_error_get_message(copy), vmk_error_get_message(err)) == 0 &&
			  strcmp(vmk_error_get_field(vmk_error_next(copy)), "memory_size") == 0,
		      "vmk_error_copy copies the whole chain");
		vmk_error_free(copy);
	}
	vmk_error_free(err);
	err = NULL;
	vmk_config_set_reboot_action(cfg, (vmk_reboot_action)7);
	CHECK(!vmk_config_validate(cfg, &err) && count_errors(err) == 4 &&
		  find_code(err, VMK_ERR_INVALID_ARGUMENT),
	      "bad reboot action -> invalid-argument");
	vmk_error_free(err);
	vmk_config_free(cfg);
	CHECK(!vmk_config_validate(NULL, NULL), "NULL config is invalid");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	test_errors();
	test_defaults_and_copy();
	test_serial();
	test_bzimage_parse();
	test_validate();
	for (int i = 0; i < 8; i++)
		if (path_buf[i][0])
			unlink(path_buf[i]);
	rmdir(dir);
	return check_done();
}
