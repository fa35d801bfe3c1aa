/* CFI01 flash: probing as OVMF does, program, erase, CFI query, the
 * read-only code flash, persistence to the file, and a VMM killed with
 * SIGKILL mid-write leaving a complete image. */
#include "check.h"
#include "platform/bus.h"
#include "platform/pflash.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BASE 0xffc00000ULL
#define SIZE (16 * PFLASH_SECTOR)

static char dir[] = "/tmp/vmkit-pflash-XXXXXX";

static uint8_t rd(struct bus *b, uint64_t off)
{
	uint8_t v = 0;
	bus_access(b, BASE + off, &v, 1, false);
	return v;
}

static void wr(struct bus *b, uint64_t off, uint8_t v)
{
	bus_access(b, BASE + off, &v, 1, true);
}

static char *make_file(const char *name, uint8_t fill, mode_t mode, bool marks)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	uint8_t *buf = malloc(SIZE);
	memset(buf, fill, SIZE);
	for (unsigned i = 0; marks && i < SIZE; i += 997)
		buf[i] = (uint8_t)(i / 997);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (write(fd, buf, SIZE) != SIZE)
		perror("write");
	close(fd);
	chmod(path, mode);
	free(buf);
	return path;
}

static void file_bytes(const char *path, uint8_t *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, n) < 0)
		memset(buf, 0, n);
	if (fd >= 0)
		close(fd);
}

static void test_vars(void)
{
	char *path = make_file("vars.fd", 0xff, 0600, true);
	struct bus mmio = {0};
	vmk_error *err = NULL;
	struct pflash *p = pflash_new(path, true, BASE, "vars", &err);
	CHECK(p && pflash_attach(p, &mmio) == 0, "variable store flash");
	if (!p)
		return;
	CHECK(pflash_size(p) == SIZE, "size is the file's");
	vmk_error *err2 = NULL;
	CHECK(!pflash_new(path, true, BASE, "vars", &err2), "a second user of the store is refused");
	vmk_error_free(err2);

	/* OVMF's QemuFlashDetected: clear status, read status, expect 0. */
	uint8_t orig = rd(&mmio, 1);
	wr(&mmio, 1, 0x50);
	CHECK(rd(&mmio, 1) == orig, "after clear status the array reads back");
	wr(&mmio, 1, 0x70);
	CHECK(rd(&mmio, 1) == 0x00, "read status after clear: 0 (behaves as flash)");
	wr(&mmio, 1, 0xff);
	CHECK(rd(&mmio, 1) == orig, "read array again");

	wr(&mmio, 0x2000, 0x10);
	wr(&mmio, 0x2000, 0x5a);
	CHECK(rd(&mmio, 0x2000) == 0x80, "after a program the flash reads status (ready)");
	wr(&mmio, 0x2001, 0x40);
	wr(&mmio, 0x2001, 0xa5);
	wr(&mmio, 0, 0xff);
	CHECK(rd(&mmio, 0x2000) == 0x5a && rd(&mmio, 0x2001) == 0xa5, "byte program (0x10 and 0x40)");

	wr(&mmio, 0x1234, 0x20);
	wr(&mmio, 0x1234, 0xd0);
	wr(&mmio, 0, 0xff);
	bool erased = true;
	for (unsigned i = 0x1000; i < 0x2000; i++)
		erased &= rd(&mmio, i) == 0xff;
	CHECK(erased && rd(&mmio, 0) == 0 && rd(&mmio, 0x2000) == 0x5a,
	      "block erase clears exactly its 4 KiB");

	wr(&mmio, 0x3000, 0x20);
	wr(&mmio, 0x3000, 0x00);
	wr(&mmio, 0, 0x70);
	CHECK(rd(&mmio, 0) & 0x30, "erase without confirm: sequence error in status");
	wr(&mmio, 0, 0x50);
	wr(&mmio, 0, 0xff);

	wr(&mmio, 0, 0x98);
	CHECK(rd(&mmio, 0x10) == 'Q' && rd(&mmio, 0x11) == 'R' && rd(&mmio, 0x12) == 'Y', "CFI query: QRY");
	CHECK((1u << rd(&mmio, 0x27)) == SIZE, "CFI device size");
	wr(&mmio, 0, 0xff);

	pflash_sync(p);
	uint8_t f[0x2002];
	file_bytes(path, f, sizeof(f));
	CHECK(f[0x2000] == 0x5a && f[0x2001] == 0xa5 && f[0x1500] == 0xff, "changes reach the file");
	wr(&mmio, 0x4000, 0x10);
	wr(&mmio, 0x4000, 0x42);
	pflash_free(p);
	uint8_t g[0x4001];
	file_bytes(path, g, sizeof(g));
	CHECK(g[0x4000] == 0x42, "an unfinished sequence is saved when the flash goes away");
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == SIZE,
	      "the file keeps its size and mode");
}

/* The read-array mapping: a slot while in read-array mode, none while a
 * command makes reads mean status or CFI data; a failed unmap refuses the
 * command. */
static int map_calls;
static bool map_state, map_fail_unmap;

static bool fake_map(void *ctx, bool map)
{
	(void)ctx;
	map_calls++;
	if (!map && map_fail_unmap)
		return false;
	map_state = map;
	return true;
}

static void test_map_hook(void)
{
	char *path = make_file("map.fd", 0xff, 0600, true);
	struct bus mmio = {0};
	vmk_error *err = NULL;
	struct pflash *p = pflash_new(path, true, BASE, "vars", &err);
	CHECK(p && pflash_attach(p, &mmio) == 0, "store for the mapping test");
	if (!p)
		return;
	CHECK(pflash_set_map_hook(p, fake_map, NULL) && map_state && map_calls == 1,
	      "mapped in read-array mode");
	wr(&mmio, 0, 0x70);
	CHECK(!map_state && rd(&mmio, 0) == 0x80, "read status unmaps: status reads exit");
	wr(&mmio, 0, 0xff);
	CHECK(map_state && map_calls == 3, "read array maps again");
	wr(&mmio, 0x10, 0xff);
	CHECK(map_calls == 3, "read array while mapped: no slot change");
	wr(&mmio, 0x20, 0x10);
	CHECK(!map_state, "program unmaps before the data write");
	wr(&mmio, 0x20, 0x33);
	wr(&mmio, 0, 0xff);
	CHECK(map_state && rd(&mmio, 0x20) == 0x33, "programmed byte visible through the mapped image");
	CHECK(pflash_host(p)[0x20] == 0x33, "the slot's memory holds the change");
	map_fail_unmap = true;
	wr(&mmio, 0x1000, 0x20);
	CHECK(map_state && rd(&mmio, 0x1000) == 0xff, "unmap failure: the erase is refused, array stays");
	wr(&mmio, 0x1000, 0xd0);
	map_fail_unmap = false;
	wr(&mmio, 0, 0x70);
	CHECK(!map_state && (rd(&mmio, 0) & 0x30), "refused command reported in status");
	wr(&mmio, 0, 0x50);
	wr(&mmio, 0, 0xff);
	pflash_free(p);
}

static void test_code(void)
{
	char *path = make_file("code.fd", 0x90, 0400, true);
	struct bus mmio = {0};
	vmk_error *err = NULL;
	struct pflash *p = pflash_new(path, false, BASE, "firmware", &err);
	CHECK(p && pflash_attach(p, &mmio) == 0, "code flash from a read-only file");
	if (!p)
		return;
	wr(&mmio, 0x10, 0x10);
	wr(&mmio, 0x10, 0x00);
	wr(&mmio, 0x10, 0x70);
	CHECK(rd(&mmio, 0x10) & 0x10, "program on the code flash fails in status");
	wr(&mmio, 0, 0xff);
	CHECK(rd(&mmio, 0x10) == 0x90 && pflash_host(p)[0x10] == 0x90, "code unchanged");
	pflash_free(p);

	char bad[256];
	snprintf(bad, sizeof(bad), "%s/odd.fd", dir);
	int fd = open(bad, O_WRONLY | O_CREAT, 0600);
	CHECK(write(fd, "x", 1) == 1, "odd-sized file");
	close(fd);
	CHECK(!pflash_new(bad, false, BASE, "firmware", &err) && err, "a file of partial sectors is refused");
	vmk_error_free(err);
}

/* A child writes whole sectors with one value per round, returning to read
 * array after each; killed at random moments, the file must always be a
 * full image whose every sector is uniform. */
static void test_sigkill(void)
{
	char *path = make_file("kill.fd", 0xff, 0600, false);
	bool ok = true;
	int saves = 0;
	srand((unsigned)time(NULL));
	for (int round = 0; round < 8 && ok; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct bus mmio = {0};
			vmk_error *err = NULL;
			struct pflash *p = pflash_new(path, true, BASE, "vars", &err);
			if (!p || pflash_attach(p, &mmio) < 0)
				_exit(1);
			for (unsigned v = 0;; v++) {
				for (unsigned s = 0; s < SIZE / PFLASH_SECTOR; s++) {
					wr(&mmio, (uint64_t)s * PFLASH_SECTOR, 0x20);
					wr(&mmio, (uint64_t)s * PFLASH_SECTOR, 0xd0);
					for (unsigned i = 0; i < PFLASH_SECTOR; i++) {
						wr(&mmio, (uint64_t)s * PFLASH_SECTOR + i, 0x10);
						wr(&mmio, (uint64_t)s * PFLASH_SECTOR + i, (uint8_t)v);
					}
					wr(&mmio, 0, 0xff);
				}
			}
		}
		usleep(20000 + (useconds_t)(rand() % 80000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		uint8_t *buf = malloc(SIZE + 1);
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, SIZE + 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n != SIZE) {
			printf("# round %d: file has %zd bytes\n", round, n);
			ok = false;
		}
		for (unsigned s = 0; ok && s < SIZE / PFLASH_SECTOR; s++)
			for (unsigned i = 1; i < PFLASH_SECTOR; i++)
				if (buf[s * PFLASH_SECTOR + i] != buf[s * PFLASH_SECTOR]) {
					printf("# round %d: sector %u torn at %u\n", round, s, i);
					ok = false;
					break;
				}
		if (buf[0] != 0xff || buf[SIZE - 1] != 0xff)
			saves++;
		free(buf);
	}
	CHECK(ok && saves > 0, "SIGKILL during writes always leaves a whole, untorn image");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_vars();
	test_map_hook();
	test_code();
	test_sigkill();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		perror("rm");
	return check_done();
}
