/* Unit tests of the virtio-fs FUSE server (src/attach/fs_server.c) driven by
 * hand-made FUSE requests, as a well-behaved driver and as a hostile one:
 * names that are paths or dot-dot, links pointing out of the share, device
 * nodes, bogus node ids and handles, lengths beyond the buffers, read-only
 * and multiple-directory shares. The host side is a temporary directory. */
#include "../unit/check.h"
#include "../unit/transport_stub.h"
#include "attach/fs_server.h"
#include "virtio/devices.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

static struct fs_server *srv;
static uint64_t uniq;
static uint8_t rbuf[1 << 20];
static size_t rlen; /* body length of the last reply */

/* One request: header + a + b (b may be NULL); the reply body lands in rbuf
 * + 16. Returns the reply's error (0 or -errno), or 1 when nothing came back. */
static int call_sized(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b, size_t blen,
		      size_t reply_room)
{
	static uint8_t q[(1 << 20) + 4096];
	struct fuse_in_header h = {.len = (uint32_t)(sizeof(h) + alen + blen),
				   .opcode = op,
				   .unique = ++uniq,
				   .nodeid = node,
				   .uid = getuid(),
				   .gid = getgid()};
	memcpy(q, &h, sizeof(h));
	if (alen)
		memcpy(q + sizeof(h), a, alen);
	if (blen)
		memcpy(q + sizeof(h) + alen, b, blen);
	struct iovec in = {q, h.len}, out = {rbuf, reply_room};
	memset(rbuf, 0xa5, 64);
	size_t n = fs_server_handle(srv, &in, 1, &out, 1);
	if (n == 0)
		return 1;
	struct fuse_out_header oh;
	memcpy(&oh, rbuf, sizeof(oh));
	rlen = n - sizeof(oh);
	if (oh.len != n || oh.unique != h.unique)
		return -999;
	return oh.error;
}

static int call(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b, size_t blen)
{
	return call_sized(op, node, a, alen, b, blen, sizeof(rbuf));
}

static int call_name(uint32_t op, uint64_t node, const void *a, size_t alen, const char *name)
{
	return call(op, node, a, alen, name, strlen(name) + 1);
}

static void *body(void)
{
	return rbuf + sizeof(struct fuse_out_header);
}

static uint64_t lookup(uint64_t parent, const char *name, int *err)
{
	*err = call_name(FUSE_LOOKUP, parent, NULL, 0, name);
	return *err ? 0 : ((struct fuse_entry_out *)body())->nodeid;
}

static uint64_t open_node(uint64_t node, uint32_t flags, int *err)
{
	struct fuse_open_in o = {.flags = flags};
	*err = call(FUSE_OPEN, node, &o, sizeof(o), NULL, 0);
	return *err ? 0 : ((struct fuse_open_out *)body())->fh;
}

static void init_session(void)
{
	struct fuse_init_in in = {.major = 7,
				  .minor = 38,
				  .max_readahead = 65536,
				  .flags = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS};
	int e = call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0);
	struct fuse_init_out *o = body();
	CHECK(e == 0 && o->major == 7 && o->max_write == FS_MAX_IO && (o->flags & FUSE_DO_READDIRPLUS) &&
		  !(o->flags & FUSE_WRITEBACK_CACHE),
	      "INIT: 7.x, max_write 1 MiB, READDIRPLUS, no writeback cache");
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		(void)!write(fd, text, strlen(text));
		close(fd);
	}
}

static uint64_t plus_node; /* READDIRPLUS: the node id of the `want` entry */

/* Every name READDIR(PLUS) returns for directory node `node`, in calls of `size` bytes. */
static unsigned count_entries_op(uint32_t op, uint64_t node, uint32_t size, const char *want, bool *found)
{
	int e;
	struct fuse_open_in oi = {0};
	unsigned n = 0;

	if (call(FUSE_OPENDIR, node, &oi, sizeof(oi), NULL, 0))
		return 0;
	uint64_t fh = ((struct fuse_open_out *)body())->fh;
	uint64_t off = 0;
	*found = false;
	for (int guard = 0; guard < 100000; guard++) {
		struct fuse_read_in r = {.fh = fh, .offset = off, .size = size};
		e = call(op, node, &r, sizeof(r), NULL, 0);
		if (e || rlen == 0)
			break;
		for (size_t p = 0; p < rlen;) {
			struct fuse_entry_out *eo = (struct fuse_entry_out *)((uint8_t *)body() + p);
			if (op == FUSE_READDIRPLUS)
				p += sizeof(*eo);
			struct fuse_dirent *d = (struct fuse_dirent *)((uint8_t *)body() + p);
			if (d->namelen == strlen(want) && !memcmp(d->name, want, d->namelen)) {
				*found = true;
				if (op == FUSE_READDIRPLUS)
					plus_node = eo->nodeid;
			}
			if (!(d->namelen == 1 && d->name[0] == '.') &&
			    !(d->namelen == 2 && d->name[0] == '.' && d->name[1] == '.'))
				n++;
			off = d->off;
			p += FUSE_DIRENT_SIZE(d);
		}
	}
	struct fuse_release_in rl = {.fh = fh};
	call(FUSE_RELEASEDIR, node, &rl, sizeof(rl), NULL, 0);
	return n;
}

static unsigned count_entries(uint64_t node, uint32_t size, const char *want, bool *found)
{
	return count_entries_op(FUSE_READDIR, node, size, want, found);
}

static void test_names_and_escapes(const char *top)
{
	char p[512];
	int e;

	snprintf(p, sizeof(p), "%s/outside.txt", top);
	write_file(p, "HOST-SECRET");
	snprintf(p, sizeof(p), "%s/share/esc-abs", top);
	char target[512];
	snprintf(target, sizeof(target), "%s/outside.txt", top);
	CHECK(symlink(target, p) == 0, "planted an absolute link out of the share");
	snprintf(p, sizeof(p), "%s/share/esc-dir", top);
	CHECK(symlink("..", p) == 0, "planted a link to the share's parent");

	CHECK(lookup(FUSE_ROOT_ID, "..", &e) == 0 && e == -EINVAL, "LOOKUP .. is refused");
	CHECK(lookup(FUSE_ROOT_ID, ".", &e) == 0 && e == -EINVAL, "LOOKUP . is refused");
	CHECK(lookup(FUSE_ROOT_ID, "esc-dir/outside.txt", &e) == 0 && e == -EINVAL,
	      "a path as a name is refused");
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK(lookup(FUSE_ROOT_ID, longname, &e) == 0 && e == -ENAMETOOLONG, "a 299-byte name: ENAMETOOLONG");
	CHECK(call(FUSE_LOOKUP, FUSE_ROOT_ID, "abc", 3, NULL, 0) == -EINVAL,
	      "a name without its NUL: EINVAL");

	uint64_t abs = lookup(FUSE_ROOT_ID, "esc-abs", &e);
	CHECK(abs && S_ISLNK(((struct fuse_entry_out *)body())->attr.mode), "the absolute link is a link");
	CHECK(open_node(abs, O_RDONLY, &e) == 0 && e == -ENXIO, "OPEN of a link is refused (never followed)");
	CHECK(call(FUSE_READLINK, abs, NULL, 0, NULL, 0) == 0 && rlen == strlen(target) &&
		  !memcmp(body(), target, rlen),
	      "READLINK returns the link's text for the guest to resolve");
	uint64_t dir = lookup(FUSE_ROOT_ID, "esc-dir", &e);
	CHECK(dir && lookup(dir, "outside.txt", &e) == 0 && e == -ENOTDIR,
	      "a name beneath a link to the parent: ENOTDIR");
	struct fuse_open_in oi = {0};
	CHECK(call(FUSE_OPENDIR, dir, &oi, sizeof(oi), NULL, 0) == -ENOTDIR, "OPENDIR of a link: ENOTDIR");

	struct fuse_mknod_in mk = {.mode = S_IFCHR | 0666, .rdev = makedev(1, 3)};
	CHECK(call_name(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "null") == -EPERM,
	      "MKNOD of a character device: EPERM");
	snprintf(p, sizeof(p), "%s/share/null", top);
	CHECK(access(p, F_OK) != 0, "no device node on the host");
	mk.mode = S_IFIFO | 0600;
	CHECK(call_name(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "fifo") == 0, "MKNOD of a FIFO works");
	uint64_t fifo = ((struct fuse_entry_out *)body())->nodeid;
	CHECK(open_node(fifo, O_RDONLY, &e) == 0 && e == -ENXIO, "OPEN of a FIFO is refused (would block)");
	struct fuse_rename2_in rn = {.newdir = FUSE_ROOT_ID, .flags = RENAME_WHITEOUT};
	CHECK(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "fifo\0w", 7) == -EINVAL,
	      "RENAME_WHITEOUT (a device node) is refused");
	struct fuse_link_in li = {.oldnodeid = FUSE_ROOT_ID};
	CHECK(call_name(FUSE_LINK, FUSE_ROOT_ID, &li, sizeof(li), "rootlink") == -EPERM,
	      "LINK of a directory: EPERM");
}

static void test_files(const char *top)
{
	char p[512];
	int e;

	struct fuse_create_in c = {.flags = O_RDWR, .mode = S_IFREG | 0640};
	CHECK(call_name(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "new.txt") == 0, "CREATE new.txt");
	struct fuse_entry_out *eo = body();
	uint64_t node = eo->nodeid;
	uint64_t fh = ((struct fuse_open_out *)(eo + 1))->fh;
	CHECK((eo->attr.mode & 07777) == 0640, "the mode asked for, whatever the VMM's umask");
	struct fuse_write_in w = {.fh = fh, .offset = 0, .size = 11};
	CHECK(call(FUSE_WRITE, node, &w, sizeof(w), "hello world", 11) == 0 &&
		  ((struct fuse_write_out *)body())->size == 11,
	      "WRITE 11 bytes");
	w.size = 100;
	CHECK(call(FUSE_WRITE, node, &w, sizeof(w), "short", 5) == -EINVAL,
	      "WRITE claiming more than it carries");
	struct fuse_read_in r = {.fh = fh, .offset = 6, .size = 4096};
	CHECK(call(FUSE_READ, node, &r, sizeof(r), NULL, 0) == 0 && rlen == 5 && !memcmp(body(), "world", 5),
	      "READ at an offset");
	r.size = 0xffffffff;
	CHECK(call_sized(FUSE_READ, node, &r, sizeof(r), NULL, 0, 16 + 3) == 0 && rlen == 3,
	      "READ of 4 GiB into a 3-byte buffer reads 3");
	r.fh = 12345;
	CHECK(call(FUSE_READ, node, &r, sizeof(r), NULL, 0) == -EBADF, "READ on a bogus handle: EBADF");
	struct fuse_release_in rl = {.fh = fh};
	CHECK(call(FUSE_RELEASE, node, &rl, sizeof(rl), NULL, 0) == 0, "RELEASE");
	CHECK(call(FUSE_RELEASE, node, &rl, sizeof(rl), NULL, 0) == -EBADF, "RELEASE twice: EBADF");
	snprintf(p, sizeof(p), "%s/share/new.txt", top);
	char got[32] = {0};
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0 && read(fd, got, sizeof(got)) == 11 && !strcmp(got, "hello world"),
	      "the host file holds it");
	if (fd >= 0)
		close(fd);

	struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 5};
	CHECK(call(FUSE_SETATTR, node, &sa, sizeof(sa), NULL, 0) == 0 &&
		  ((struct fuse_attr_out *)body())->attr.size == 5,
	      "SETATTR size (truncate without a handle)");
	struct fuse_link_in li = {.oldnodeid = node};
	CHECK(call_name(FUSE_LINK, FUSE_ROOT_ID, &li, sizeof(li), "hard.txt") == 0 &&
		  ((struct fuse_entry_out *)body())->attr.nlink == 2,
	      "LINK: a second name, nlink 2");
	struct fuse_mkdir_in md = {.mode = 0755};
	CHECK(call_name(FUSE_MKDIR, FUSE_ROOT_ID, &md, sizeof(md), "dir") == 0, "MKDIR");
	uint64_t dir = ((struct fuse_entry_out *)body())->nodeid;
	struct fuse_rename_in rn = {.newdir = dir};
	CHECK(call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "hard.txt\0moved.txt", 19) == 0,
	      "RENAME into dir");
	snprintf(p, sizeof(p), "%s/share/dir/moved.txt", top);
	CHECK(access(p, F_OK) == 0, "moved on the host");
	CHECK(call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "new.txt\0../x", 13) == -EINVAL,
	      "RENAME to a path: EINVAL");
	CHECK(call_name(FUSE_UNLINK, dir, NULL, 0, "moved.txt") == 0 &&
		  call_name(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "dir") == 0,
	      "UNLINK, RMDIR");

	/* Forgetting the last reference frees the node id. */
	struct fuse_forget_in fg = {.nlookup = 1000};
	CHECK(call(FUSE_FORGET, node, &fg, sizeof(fg), NULL, 0) == 1, "FORGET has no reply");
	CHECK(call(FUSE_GETATTR, node, NULL, 0, NULL, 0) == -ENOENT, "a forgotten node id: ENOENT");
	CHECK(call(FUSE_GETATTR, 1u << 30, NULL, 0, NULL, 0) == -ENOENT, "a node id never given: ENOENT");
	struct {
		struct fuse_batch_forget_in b;
		struct fuse_forget_one one[2];
	} bf = {{.count = 1000000},
		{{.nodeid = FUSE_ROOT_ID, .nlookup = 5}, {.nodeid = 77777, .nlookup = 1}}};
	CHECK(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0) == 1 &&
		  call(FUSE_GETATTR, FUSE_ROOT_ID, NULL, 0, NULL, 0) == 0,
	      "BATCH_FORGET counting a million entries it does not carry; the root stays");

	/* A directory read in small pieces loses and repeats nothing. */
	snprintf(p, sizeof(p), "%s/share/many", top);
	mkdir(p, 0755);
	for (int i = 0; i < 300; i++) {
		char f[600];
		snprintf(f, sizeof(f), "%s/share/many/file-%03d", top, i);
		write_file(f, "");
	}
	uint64_t many = lookup(FUSE_ROOT_ID, "many", &e);
	bool found;
	CHECK(count_entries(many, 256, "file-299", &found) == 300 && found,
	      "READDIR in 256-byte pieces: 300 names");
	CHECK(count_entries(many, 100000, "file-000", &found) == 300 && found,
	      "READDIR in one piece: 300 names");
	CHECK(count_entries(many, 8, "x", &found) == 0, "READDIR with no room for an entry returns nothing");
	CHECK(count_entries_op(FUSE_READDIRPLUS, many, 512, "file-123", &found) == 300 && found && plus_node,
	      "READDIRPLUS in 512-byte pieces: 300 names with their nodes");
	struct fuse_attr_out *ao = body();
	CHECK(call(FUSE_GETATTR, plus_node, NULL, 0, NULL, 0) == 0 && S_ISREG(ao->attr.mode),
	      "a node READDIRPLUS handed out is live");
	CHECK(count_entries_op(FUSE_READDIRPLUS, many, 100, "x", &found) == 0,
	      "READDIRPLUS with no room for an entry returns nothing (and looks nothing up)");
}

static void test_malformed(void)
{
	uint8_t small[8] = {0};
	struct iovec in = {small, sizeof(small)}, out = {rbuf, sizeof(rbuf)};
	CHECK(fs_server_handle(srv, &in, 1, &out, 1) == 0, "a request shorter than its header: no reply");
	struct fuse_in_header h = {.len = 4096, .opcode = FUSE_GETATTR, .unique = 9, .nodeid = 1};
	struct iovec in2 = {&h, sizeof(h)};
	CHECK(fs_server_handle(srv, &in2, 1, &out, 1) == 16 &&
		  ((struct fuse_out_header *)rbuf)->error == -EINVAL,
	      "a header claiming more than the buffers hold: EINVAL");
	h.len = sizeof(h);
	struct iovec tiny = {rbuf, 8};
	CHECK(fs_server_handle(srv, &in2, 1, &tiny, 1) == 0, "no room for a reply header: nothing written");
	CHECK(call_sized(FUSE_GETATTR, FUSE_ROOT_ID, NULL, 0, NULL, 0, 20) == -EINVAL,
	      "a reply buffer too small for the attributes: EINVAL");
	CHECK(call(9999, FUSE_ROOT_ID, NULL, 0, NULL, 0) == -ENOSYS, "an unknown opcode: ENOSYS");
	CHECK(call(FUSE_SETXATTR, FUSE_ROOT_ID, "x", 1, NULL, 0) == -ENOSYS, "xattrs: ENOSYS");
	CHECK(call(FUSE_SETATTR, FUSE_ROOT_ID, "x", 1, NULL, 0) == -EINVAL, "SETATTR without its arguments");
}

static struct fs_server *server(vmk_fs_device *d)
{
	vmk_config *cfg = vmk_config_new();
	vmk_error *err = NULL;
	struct fs_server *s = NULL;
	if (vmk_config_add_fs_device(cfg, d, &err))
		s = fs_server_new(((struct vmk_config *)cfg)->fs[0], &err);
	if (err)
		printf("# %s\n", vmk_error_get_message(err));
	vmk_error_free(err);
	vmk_config_free(cfg);
	return s;
}

/* rm -rf's pattern: list a directory in small READDIR calls and remove what
 * was read before asking for more; like the guest's driver when the caller's
 * buffer fills, take only part of each reply and ask again from the last
 * entry taken. Where a d_off is a position (tmpfs before Linux 6.6, ramfs),
 * resuming by seeking to it after removals skipped entries (bench/fs.sh:
 * rmdir then failed with ENOTEMPTY). VMK_TEST_POSDIR names a directory on
 * such a file system (default /dev/shm). */
static void test_listing_while_removing(void)
{
	char top[300], p[700];
	int e;
	snprintf(top, sizeof(top), "%s/vmkit-fs-rm.XXXXXX",
		 getenv("VMK_TEST_POSDIR") ? getenv("VMK_TEST_POSDIR") : "/dev/shm");
	if (!mkdtemp(top)) {
		printf("# no /dev/shm: listing while removing not checked\n");
		return;
	}
	for (int i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "%s/file-with-a-long-name-%03d", top, i);
		write_file(p, "x");
	}
	vmk_fs_device *d = vmk_fs_device_new("rm", NULL);
	vmk_fs_device_set_directory(d, top, false, NULL);
	srv = server(d);
	vmk_fs_device_free(d);
	CHECK(srv != NULL, "server on %s", top);
	if (!srv)
		return;
	init_session();
	struct fuse_open_in oi = {0};
	CHECK(call(FUSE_OPENDIR, FUSE_ROOT_ID, &oi, sizeof(oi), NULL, 0) == 0, "OPENDIR");
	uint64_t fh = ((struct fuse_open_out *)body())->fh, off = 0;
	unsigned listed = 0, removed = 0;
	for (int guard = 0; guard < 1000; guard++) {
		struct fuse_read_in r = {.fh = fh, .offset = off, .size = 1024};
		if (call(FUSE_READDIR, FUSE_ROOT_ID, &r, sizeof(r), NULL, 0) || rlen == 0)
			break;
		static uint8_t got[1 << 16];
		size_t n = rlen;
		memcpy(got, body(), n);
		unsigned taken = 0, in_reply = 0;
		for (size_t q = 0; q < n; q += FUSE_DIRENT_SIZE((struct fuse_dirent *)(got + q)))
			in_reply++;
		for (size_t q = 0; q < n && (taken < (in_reply + 1) / 2); taken++) {
			struct fuse_dirent *de = (struct fuse_dirent *)(got + q);
			char nm[256];
			memcpy(nm, de->name, de->namelen);
			nm[de->namelen] = 0;
			if (strcmp(nm, ".") && strcmp(nm, "..")) {
				listed++;
				removed += call_name(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, nm) == 0;
			}
			off = de->off;
			q += FUSE_DIRENT_SIZE(de);
		}
	}
	struct fuse_release_in rl = {.fh = fh};
	call(FUSE_RELEASEDIR, FUSE_ROOT_ID, &rl, sizeof(rl), NULL, 0);
	CHECK(listed == 300 && removed == 300,
	      "a listing read while removing its names shows all 300 (listed %u, removed %u)", listed,
	      removed);
	(void)e;
	fs_server_free(srv);
	snprintf(p, sizeof(p), "rm -rf %s", top);
	(void)!system(p);
}

static void test_read_only(const char *top)
{
	char p[512];
	int e;
	vmk_fs_device *d = vmk_fs_device_new("ro", NULL);
	snprintf(p, sizeof(p), "%s/share", top);
	vmk_fs_device_set_directory(d, p, true, NULL);
	srv = server(d);
	vmk_fs_device_free(d);
	CHECK(srv != NULL, "read-only server");
	if (!srv)
		return;
	init_session();
	struct fuse_create_in c = {.flags = O_RDWR, .mode = S_IFREG | 0644};
	CHECK(call_name(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "x") == -EROFS, "CREATE: EROFS");
	uint64_t n = lookup(FUSE_ROOT_ID, "new.txt", &e);
	CHECK(n && open_node(n, O_WRONLY, &e) == 0 && e == -EROFS, "OPEN for writing: EROFS");
	CHECK(open_node(n, O_RDONLY | O_TRUNC, &e) == 0 && e == -EROFS, "OPEN with O_TRUNC: EROFS");
	CHECK(open_node(n, O_RDONLY, &e) && e == 0, "OPEN for reading works");
	struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 0777};
	CHECK(call(FUSE_SETATTR, n, &sa, sizeof(sa), NULL, 0) == -EROFS, "SETATTR: EROFS");
	CHECK(call_name(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "new.txt") == -EROFS, "UNLINK: EROFS");
	fs_server_free(srv);
}

static void test_multiple(const char *top)
{
	char a[512], b[512];
	int e;
	snprintf(a, sizeof(a), "%s/share", top);
	snprintf(b, sizeof(b), "%s/other", top);
	mkdir(b, 0755);
	vmk_fs_device *d = vmk_fs_device_new("multi", NULL);
	vmk_error *err = NULL;
	CHECK(vmk_fs_device_add_directory(d, "one", a, false, NULL) &&
		  vmk_fs_device_add_directory(d, "two", b, true, NULL),
	      "two named directories");
	CHECK(!vmk_fs_device_add_directory(d, "../x", b, true, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_FS_DEVICE,
	      "a name with a slash is refused: %s", err ? vmk_error_get_message(err) : "");
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_fs_device_set_directory(d, a, false, &err) || vmk_fs_device_get_directory_count(d) == 1,
	      "set_directory replaces the share");
	vmk_error_free(err);
	vmk_fs_device_free(d);
	d = vmk_fs_device_new("multi", NULL);
	vmk_fs_device_add_directory(d, "one", a, false, NULL);
	vmk_fs_device_add_directory(d, "two", b, true, NULL);
	srv = server(d);
	vmk_fs_device_free(d);
	CHECK(srv != NULL, "multiple-directory server");
	if (!srv)
		return;
	init_session();
	bool found;
	CHECK(count_entries(FUSE_ROOT_ID, 4096, "two", &found) == 2 && found, "the root lists one and two");
	CHECK(call(FUSE_GETATTR, FUSE_ROOT_ID, NULL, 0, NULL, 0) == 0 &&
		  ((struct fuse_attr_out *)body())->attr.mode == (S_IFDIR | 0555),
	      "the root is a read-only directory");
	struct fuse_mkdir_in md = {.mode = 0755};
	CHECK(call_name(FUSE_MKDIR, FUSE_ROOT_ID, &md, sizeof(md), "three") == -EROFS,
	      "MKDIR in the root: EROFS");
	uint64_t one = lookup(FUSE_ROOT_ID, "one", &e), two = lookup(FUSE_ROOT_ID, "two", &e);
	CHECK(one && two && one != two, "LOOKUP one, two");
	CHECK(lookup(one, "new.txt", &e) && e == 0, "a file in one");
	CHECK(call_name(FUSE_MKDIR, one, &md, sizeof(md), "d") == 0, "MKDIR in the read-write one");
	CHECK(call_name(FUSE_MKDIR, two, &md, sizeof(md), "d") == -EROFS,
	      "MKDIR in the read-only two: EROFS");
	struct fuse_rename_in rn = {.newdir = two};
	CHECK(call(FUSE_RENAME, one, &rn, sizeof(rn), "d\0d", 4) == -EROFS, "RENAME into two: EROFS");
	fs_server_free(srv);
}

static int failed_calls;
static char failed_why[128];

static void on_failed(void *ctx, unsigned index, const char *why)
{
	(void)ctx;
	(void)index;
	snprintf(failed_why, sizeof(failed_why), "%s", why);
	__atomic_add_fetch(&failed_calls, 1, __ATOMIC_SEQ_CST);
}

/* The device through the stand-in transport: requests served on its own
 * thread, a malformed queue reported once, a reset stopping the thread. */
static void test_device(const char *top)
{
	char p[512];
	vmk_error *err = NULL;
	snprintf(p, sizeof(p), "%s/share", top);
	vmk_fs_device *d = vmk_fs_device_new("0123456789abcdef0123456789abcdef0123", NULL);
	vmk_fs_device_set_directory(d, p, false, NULL);
	vmk_config *cfg = vmk_config_new();
	vmk_config_add_fs_device(cfg, d, NULL);
	vmk_fs_device_free(d);
	struct virtio_fs_hooks hooks = {.failed = on_failed};
	if (gmem_init(&mem, MEM_SIZE) != 0) {
		CHECK(0, "guest memory");
		return;
	}
	queues_reset();
	struct virtio_fs *f = virtio_fs_new(((struct vmk_config *)cfg)->fs[0], 0, &hooks, &err);
	vmk_config_free(cfg);
	CHECK(f != NULL, "virtio_fs_new");
	if (!f)
		return;
	struct virtio_dev *dev = virtio_fs_dev(f);
	uint32_t nq;
	memcpy(&nq, dev->config + 36, 4);
	CHECK(dev->device_id == 26 && dev->config_size == 40 &&
		  !memcmp(dev->config, "0123456789abcdef", 16) && nq == 1,
	      "config: a 36-byte tag fills the field (no NUL), one request queue");
	CHECK(dev->activate(dev->opaque) == 0, "DRIVER_OK starts the server thread");

	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} init = {{.len = sizeof(init), .opcode = FUSE_INIT, .unique = 7}, {.major = 7, .minor = 36}};
	memcpy(g(DATA, sizeof(init)), &init, sizeof(init));
	struct buf b[2] = {{DATA, sizeof(init), false}, {DATA + 4096, 256, true}};
	drv_add(1, b, 2);
	dev->queue_notify(dev->opaque, 1);
	uint32_t id, len;
	struct fuse_out_header oh;
	bool got = drv_wait_used(1, &id, &len);
	memcpy(&oh, g(DATA + 4096, sizeof(oh)), sizeof(oh));
	CHECK(got && len == sizeof(oh) + sizeof(struct fuse_init_out) && oh.error == 0 && oh.unique == 7,
	      "INIT through the request queue, answered by the device's thread");
	CHECK(notified[1] > 0, "the driver was notified");

	/* An avail index 100 ahead of a 16-entry queue is malformed. */
	uint8_t *avail = g(ring(1, 1), 4);
	__atomic_store_n((uint16_t *)(avail + 2), (uint16_t)(dq[1].avail_idx + 100), __ATOMIC_RELEASE);
	dev->queue_notify(dev->opaque, 1);
	dev->queue_notify(dev->opaque, 1);
	for (int i = 0; i < 400 && !__atomic_load_n(&failed_calls, __ATOMIC_SEQ_CST); i++)
		usleep(5000);
	usleep(20000);
	CHECK(failed_calls == 1 && needs_reset >= 1,
	      "a malformed queue: NEEDS_RESET, the observer told once (%s)", failed_why);
	dev->reset(dev->opaque);
	queues_reset();
	CHECK(dev->activate(dev->opaque) == 0, "after a reset the driver can start again");
	init.h.unique = 8;
	memcpy(g(DATA, sizeof(init)), &init, sizeof(init));
	drv_add(1, b, 2);
	dev->queue_notify(dev->opaque, 1);
	got = drv_wait_used(1, &id, &len);
	memcpy(&oh, g(DATA + 4096, sizeof(oh)), sizeof(oh));
	CHECK(got && oh.error == 0 && oh.unique == 8, "served again after the reset");
	virtio_fs_free(f);
	gmem_destroy(&mem);
}

int main(void)
{
	char top[] = "/tmp/vmkit-fs-test.XXXXXX";
	char p[600];
	vmk_error *err = NULL;

	CHECK(mkdtemp(top) != NULL, "temporary directory");
	snprintf(p, sizeof(p), "%s/share", top);
	mkdir(p, 0755);
	CHECK(vmk_fs_device_new("", &err) == NULL && vmk_error_get_code(err) == VMK_ERR_FS_DEVICE,
	      "an empty tag");
	vmk_error_free(err);
	err = NULL;
	CHECK(vmk_fs_device_validate_tag("012345678901234567890123456789012345", NULL) &&
		  !vmk_fs_device_validate_tag("0123456789012345678901234567890123456", &err),
	      "36-byte tags (podman's) fit, 37 do not: %s", err ? vmk_error_get_message(err) : "");
	vmk_error_free(err);
	err = NULL;

	vmk_fs_device *d = vmk_fs_device_new("share", NULL);
	vmk_fs_device_set_directory(d, p, false, NULL);
	vmk_config *cfg = vmk_config_new();
	CHECK(vmk_config_add_fs_device(cfg, d, NULL) && !vmk_config_add_fs_device(cfg, d, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_FS_DEVICE,
	      "a tag is used once per VM: %s", err ? vmk_error_get_message(err) : "");
	vmk_error_free(err);
	vmk_config_free(cfg);
	srv = server(d);
	vmk_fs_device_free(d);
	CHECK(srv != NULL, "server on %s", p);
	if (!srv)
		return check_done();
	CHECK(call(FUSE_GETATTR, FUSE_ROOT_ID, NULL, 0, NULL, 0) == -EIO, "before INIT: EIO");
	init_session();
	test_names_and_escapes(top);
	test_files(top);
	test_malformed();
	fs_server_reset(srv);
	CHECK(call(FUSE_GETATTR, FUSE_ROOT_ID, NULL, 0, NULL, 0) == -EIO, "after a reset: INIT first");
	fs_server_free(srv);
	test_read_only(top);
	test_multiple(top);
	test_device(top);
	test_listing_while_removing();

	snprintf(p, sizeof(p), "rm -rf %s", top);
	(void)!system(p);
	return check_done();
}
