/* The EFI boot loader's files: creating a variable store from a template
 * and the validation answers for bad firmware and bad stores, each with
 * its own error and no file changed. */
#include "check.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

static char dir[] = "/tmp/vmkit-efi-XXXXXX";
static char path_buf[8][256];

static const uint8_t nv_guid[16] = {0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c,
				    0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50};

/* A file of size bytes with a firmware volume header (NV data GUID if nv). */
static const char *make(int slot, const char *name, size_t size, bool fv, bool nv, mode_t mode)
{
	char *p = path_buf[slot];
	snprintf(p, sizeof(path_buf[0]), "%s/%s", dir, name);
	uint8_t *b = calloc(1, size < 64 ? 64 : size);
	memset(b + 64, 0xff, size > 64 ? size - 64 : 0);
	if (fv) {
		if (nv)
			memcpy(b + 16, nv_guid, 16);
		for (int i = 0; i < 8; i++)
			b[32 + i] = (uint8_t)((uint64_t)size >> (8 * i));
		memcpy(b + 40, "_FVH", 4);
		b[48] = 72;
	}
	b[100 % (size ? size : 1)] = (uint8_t)slot;
	unlink(p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (write(fd, b, size) != (ssize_t)size)
		perror("write");
	close(fd);
	chmod(p, mode);
	free(b);
	return p;
}

static bool same(const char *a, const char *b)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

/* The boot-loader errors validation reports for firmware + store. */
static vmk_error_code validate(const char *fw, const char *vars, const char **msg)
{
	static char m[512];
	vmk_config *cfg = vmk_config_new();
	vmk_boot_loader *bl = vmk_efi_boot_loader_new(vars);
	if (fw)
		vmk_efi_boot_loader_set_firmware(bl, fw);
	vmk_config_set_boot_loader(cfg, bl);
	vmk_boot_loader_free(bl);
	vmk_error *err = NULL;
	vmk_config_validate(cfg, &err);
	vmk_error_code code = VMK_ERR_NONE;
	m[0] = 0;
	for (const vmk_error *e = err; e; e = vmk_error_next(e))
		if (strncmp(vmk_error_get_field(e), "boot_loader", 11) == 0 && code == VMK_ERR_NONE) {
			code = vmk_error_get_code(e);
			snprintf(m, sizeof(m), "%s", vmk_error_get_message(e));
		}
	vmk_error_free(err);
	vmk_config_free(cfg);
	if (msg)
		*msg = m;
	return code;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const char *fw = make(0, "code.fd", 64 * 4096, true, false, 0444);
	const char *tpl = make(1, "template.fd", 16 * 4096, true, true, 0444);
	char store[300];
	snprintf(store, sizeof(store), "%s/vars.fd", dir);

	vmk_boot_loader *bl = vmk_efi_boot_loader_new(store);
	CHECK(bl && vmk_boot_loader_get_kind(bl) == VMK_BOOT_LOADER_EFI, "EFI boot loader");
	CHECK(strcmp(vmk_efi_boot_loader_get_firmware(bl), VMK_EFI_DEFAULT_FIRMWARE) == 0,
	      "default firmware");
	vmk_efi_boot_loader_set_firmware(bl, fw);
	vmk_boot_loader *copy = vmk_boot_loader_copy(bl);
	CHECK(copy && strcmp(vmk_efi_boot_loader_get_firmware(copy), fw) == 0 &&
		  strcmp(vmk_efi_boot_loader_get_variable_store(copy), store) == 0,
	      "copy keeps firmware and store");
	vmk_boot_loader_free(copy);
	vmk_boot_loader_free(bl);

	vmk_error *err = NULL;
	CHECK(vmk_efi_variable_store_create(store, tpl, false, &err) && !err,
	      "store created from the template");
	struct stat st;
	CHECK(stat(store, &st) == 0 && (st.st_mode & 0777) == 0600 && same(store, tpl), "a 0600 copy");
	const char *msg;
	CHECK(validate(fw, store, &msg) == VMK_ERR_NONE, "firmware + new store validate (%s)", msg);

	make(2, "other.fd", 16 * 4096, true, true, 0644);
	CHECK(!vmk_efi_variable_store_create(store, path_buf[2], false, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_VARIABLE_STORE && same(store, tpl),
	      "an existing store is not replaced without allow_overwrite");
	vmk_error_free(err);
	err = NULL;
	CHECK(vmk_efi_variable_store_create(store, path_buf[2], true, &err) && same(store, path_buf[2]),
	      "allow_overwrite replaces it");
	char bogus[300];
	snprintf(bogus, sizeof(bogus), "%s/new.fd", dir);
	CHECK(!vmk_efi_variable_store_create(bogus, fw, false, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_VARIABLE_STORE && access(bogus, F_OK) != 0,
	      "a template that is not a store: error, nothing created");
	vmk_error_free(err);
	err = NULL;

	char missing[300];
	snprintf(missing, sizeof(missing), "%s/missing.fd", dir);
	CHECK(validate(missing, store, &msg) == VMK_ERR_FIRMWARE && strstr(msg, "No such file"),
	      "missing firmware: %s", msg);
	const char *odd = make(3, "odd.fd", 64 * 4096 + 100, true, false, 0444);
	CHECK(validate(odd, store, &msg) == VMK_ERR_FIRMWARE && strstr(msg, "bytes"),
	      "firmware of the wrong size: %s", msg);
	const char *nofv = make(4, "nofv.fd", 64 * 4096, false, false, 0444);
	CHECK(validate(nofv, store, &msg) == VMK_ERR_FIRMWARE && strstr(msg, "not UEFI firmware"),
	      "firmware without a volume: %s", msg);
	const char *notstore = make(5, "notstore.fd", 16 * 4096, true, false, 0644);
	CHECK(validate(fw, notstore, &msg) == VMK_ERR_VARIABLE_STORE &&
		  strstr(msg, "not a UEFI variable store"),
	      "a store that is not one: %s", msg);
	uint8_t before[64], after[64];
	int nfd = open(notstore, O_RDONLY);
	bool read_before = nfd >= 0 && read(nfd, before, sizeof(before)) == (ssize_t)sizeof(before);
	if (nfd >= 0)
		close(nfd);
	CHECK(!vmk_efi_variable_store_create(notstore, tpl, true, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_VARIABLE_STORE &&
		  strstr(vmk_error_get_message(err), "not replacing it"),
	      "allow_overwrite never replaces a file that is not a store");
	vmk_error_free(err);
	err = NULL;
	nfd = open(notstore, O_RDONLY);
	CHECK(read_before && nfd >= 0 && read(nfd, after, sizeof(after)) == (ssize_t)sizeof(after) &&
		  memcmp(before, after, sizeof(before)) == 0,
	      "that file is left as it was");
	if (nfd >= 0)
		close(nfd);
	CHECK(validate(fw, missing, &msg) == VMK_ERR_VARIABLE_STORE && strstr(msg, "No such file"),
	      "missing store: %s", msg);
	chmod(store, 0444);
	CHECK(validate(fw, store, &msg) == VMK_ERR_VARIABLE_STORE && strstr(msg, "read-only"),
	      "read-only store: %s", msg);
	CHECK(same(store, path_buf[2]) && same(notstore, notstore), "no file was changed");

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		perror("rm");
	return check_done();
}
