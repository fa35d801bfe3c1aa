/* The FUSE server's state: the shared directories, the inode table (guest
 * node ids → O_PATH descriptors), open handles, and the dispatch of a request
 * to its operation. Every length, id and name in a request comes from the
 * guest and is checked here or by the operation before use. */
#include "attach/fs_priv.h"
#include "core/iov.h"
#include "util/error_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Upper bounds whatever the descriptor limit: the tables' memory. */
#define FS_MAX_INODES  (1u << 20)
#define FS_MAX_HANDLES (1u << 16)

static size_t fd_budget(void)
{
	struct rlimit rl;
	size_t b = 256;

	/* Raise the soft limit to the hard one, as virtiofsd does: a guest
	 * listing a large tree holds one descriptor per inode it caches. Half
	 * of what is left above 1024 goes to this server, so other devices and
	 * the application keep descriptors of their own. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		/* A privileged process may raise the hard limit too, as virtiofsd
		 * does: under a bare init (busybox, some containers) it is 4096,
		 * which left this server about 1,500 inodes, and a guest unpacking
		 * a source tree got ENFILE (bench/fs.sh). fs.nr_open (2^20 by
		 * default) caps it; without the privilege this fails, harmlessly. */
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (1u << 20)) {
			struct rlimit h = {.rlim_cur = rl.rlim_cur, .rlim_max = 1u << 20};
			if (setrlimit(RLIMIT_NOFILE, &h) == 0)
				rl.rlim_max = h.rlim_max;
		}
		if (rl.rlim_cur < rl.rlim_max) {
			rlim_t want = rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max;
			struct rlimit n = {.rlim_cur = want, .rlim_max = rl.rlim_max};
			if (want > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &n) == 0)
				rl.rlim_cur = want;
		}
		if (rl.rlim_cur > 1024 + 512)
			b = (size_t)(rl.rlim_cur - 1024) / 2;
	}
	return b > FS_MAX_INODES ? FS_MAX_INODES : b;
}

int fs_open_beneath(int dirfd, const char *name)
{
	struct open_how how = {
	    .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	/* Kernels before 5.6: the name is one checked component and O_NOFOLLOW
	 * keeps a trailing link unresolved, which is all openat2 adds here. */
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fs_reopen(struct fs_server *s, const struct fs_inode *in, int flags)
{
	char name[16];

	if (in->fd < 0)
		return -EROFS;
	if (S_ISDIR(in->type)) {
		/* "." beneath an O_PATH directory needs no /proc. */
		int fd = openat(in->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if (!S_ISREG(in->type))
		return -EINVAL;
	if (s->proc_fd < 0)
		return -EOPNOTSUPP;
	snprintf(name, sizeof(name), "%d", in->fd);
	int fd =
	    openat(s->proc_fd, name, (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_DIRECTORY)) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void fs_fill_attr(struct fuse_attr *a, const struct stat *st)
{
	*a = (struct fuse_attr){
	    .ino = st->st_ino,
	    .size = (uint64_t)st->st_size,
	    .blocks = (uint64_t)st->st_blocks,
	    .atime = (uint64_t)st->st_atim.tv_sec,
	    .mtime = (uint64_t)st->st_mtim.tv_sec,
	    .ctime = (uint64_t)st->st_ctim.tv_sec,
	    .atimensec = (uint32_t)st->st_atim.tv_nsec,
	    .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
	    .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
	    .mode = st->st_mode,
	    .nlink = (uint32_t)st->st_nlink,
	    .uid = st->st_uid,
	    .gid = st->st_gid,
	    .rdev = (uint32_t)st->st_rdev,
	    .blksize = (uint32_t)st->st_blksize,
	};
}

int fs_stat(const struct fs_server *s, const struct fs_inode *in, struct stat *st)
{
	if (in->fd >= 0)
		return fstatat(in->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	/* The virtual root of a multiple share: read-only, owned by us. */
	memset(st, 0, sizeof(*st));
	st->st_ino = 1;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2 + s->nshares;
	st->st_uid = geteuid();
	st->st_gid = getegid();
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = s->start;
	return 0;
}

bool fs_read_only(const struct fs_server *s, const struct fs_inode *in)
{
	return in->fd < 0 || s->shares[in->share].read_only;
}

/* --- inodes --- */

static size_t hash_of(const struct fs_server *s, dev_t dev, ino_t ino, uint32_t share)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full ^ share;
	return (size_t)(h ^ (h >> 29)) & (s->hash_size - 1);
}

struct fs_inode *fs_inode_get(struct fs_server *s, uint64_t nodeid)
{
	return nodeid < s->nslots ? s->inodes[nodeid] : NULL;
}

static int grow_hash(struct fs_server *s)
{
	size_t n = s->hash_size * 2;
	struct fs_inode **h = calloc(n, sizeof(*h));

	if (!h)
		return -ENOMEM;
	struct fs_inode **old = s->hash;
	size_t on = s->hash_size;
	s->hash = h;
	s->hash_size = n;
	for (size_t i = 0; i < on; i++)
		for (struct fs_inode *in = old[i], *next; in; in = next) {
			next = in->hnext;
			size_t b = hash_of(s, in->dev, in->ino, in->share);
			in->hnext = h[b];
			h[b] = in;
		}
	free(old);
	return 0;
}

/* A free node id (slot), growing the table within its bound. */
static int free_slot(struct fs_server *s, uint64_t *id)
{
	/* Slots fill from the bottom and most are in use; scanning from the
	 * inode count keeps the search short. */
	for (size_t i = s->ninodes + 1 < s->nslots ? s->ninodes + 1 : 2; i < s->nslots; i++)
		if (!s->inodes[i]) {
			*id = i;
			return 0;
		}
	for (size_t i = 2; i < s->nslots && i <= s->ninodes + 1; i++)
		if (!s->inodes[i]) {
			*id = i;
			return 0;
		}
	if (s->nslots >= FS_MAX_INODES)
		return -ENFILE;
	size_t n = s->nslots * 2;
	struct fs_inode **t = realloc(s->inodes, n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + s->nslots, 0, (n - s->nslots) * sizeof(*t));
	s->inodes = t;
	*id = s->nslots;
	s->nslots = n;
	return 0;
}

int fs_inode_add(struct fs_server *s, int fd, const struct stat *st, uint32_t share, struct fs_inode **out)
{
	size_t b = hash_of(s, st->st_dev, st->st_ino, share);

	for (struct fs_inode *in = s->hash[b]; in; in = in->hnext)
		if (in->dev == st->st_dev && in->ino == st->st_ino && in->share == share) {
			close(fd);
			in->nlookup++;
			*out = in;
			return 0;
		}
	if (s->fds_used >= s->fd_budget) {
		close(fd);
		return -ENFILE;
	}
	uint64_t id;
	int e = free_slot(s, &id);
	struct fs_inode *in = e ? NULL : calloc(1, sizeof(*in));
	if (!in) {
		close(fd);
		return e ? e : -ENOMEM;
	}
	*in = (struct fs_inode){.nodeid = id,
				.fd = fd,
				.dev = st->st_dev,
				.ino = st->st_ino,
				.type = st->st_mode & S_IFMT,
				.share = share,
				.nlookup = 1,
				.generation = ++s->next_generation};
	s->inodes[id] = in;
	in->hnext = s->hash[b];
	s->hash[b] = in;
	s->ninodes++;
	s->fds_used++;
	if (s->ninodes > s->hash_size)
		(void)grow_hash(s); /* longer chains if it fails, still correct */
	*out = in;
	return 0;
}

static void inode_drop(struct fs_server *s, struct fs_inode *in)
{
	struct fs_inode **p = &s->hash[hash_of(s, in->dev, in->ino, in->share)];

	while (*p && *p != in)
		p = &(*p)->hnext;
	if (*p)
		*p = in->hnext;
	s->inodes[in->nodeid] = NULL;
	close(in->fd);
	s->ninodes--;
	s->fds_used--;
	free(in);
}

void fs_inode_forget(struct fs_server *s, struct fs_inode *in, uint64_t n)
{
	if (in->nodeid == FUSE_ROOT_ID)
		return; /* the root lives as long as the server */
	in->nlookup = n >= in->nlookup ? 0 : in->nlookup - n;
	if (!in->nlookup)
		inode_drop(s, in);
}

/* --- handles --- */

int fs_handle_add(struct fs_server *s, int fd, bool dir, bool writable, uint32_t share, uint64_t *fh)
{
	if (fd >= 0 && s->fds_used >= s->fd_budget) {
		close(fd);
		return -ENFILE;
	}
	size_t i = 0;
	while (i < s->nhandle_slots && s->handles[i].in_use)
		i++;
	if (i == s->nhandle_slots) {
		size_t n = s->nhandle_slots ? s->nhandle_slots * 2 : 64;
		struct fs_handle *t = n <= FS_MAX_HANDLES ? realloc(s->handles, n * sizeof(*t)) : NULL;
		if (!t) {
			if (fd >= 0)
				close(fd);
			return n <= FS_MAX_HANDLES ? -ENOMEM : -ENFILE;
		}
		memset(t + s->nhandle_slots, 0, (n - s->nhandle_slots) * sizeof(*t));
		s->handles = t;
		s->nhandle_slots = n;
	}
	s->handles[i] =
	    (struct fs_handle){.fd = fd, .in_use = true, .dir = dir, .writable = writable, .share = share};
	s->nhandles++;
	if (fd >= 0)
		s->fds_used++;
	*fh = i + 1;
	return 0;
}

struct fs_handle *fs_handle_get(struct fs_server *s, uint64_t fh, bool dir)
{
	if (fh == 0 || fh > s->nhandle_slots || !s->handles[fh - 1].in_use || s->handles[fh - 1].dir != dir)
		return NULL;
	return &s->handles[fh - 1];
}

void fs_handle_close(struct fs_server *s, uint64_t fh)
{
	struct fs_handle *h = &s->handles[fh - 1];

	if (h->fd >= 0) {
		close(h->fd);
		s->fds_used--;
	}
	free(h->dbuf);
	*h = (struct fs_handle){.fd = -1};
	s->nhandles--;
}

/* --- requests --- */

const char *fs_arg_name(struct fs_req *r, size_t *off, int *errp)
{
	if (*off >= r->arglen) {
		*errp = -EINVAL;
		return NULL;
	}
	const char *name = (const char *)r->arg + *off;
	const char *nul = memchr(name, 0, r->arglen - *off);
	if (!nul) {
		*errp = -EINVAL;
		return NULL;
	}
	size_t len = (size_t)(nul - name);
	*off += len + 1;
	if (len > 255) {
		*errp = -ENAMETOOLONG;
		return NULL;
	}
	/* The guest's kernel resolves "." and ".." itself; a request naming
	 * them, or a path, is not from a well-behaved driver. */
	if (!len || memchr(name, '/', len) || !strcmp(name, ".") || !strcmp(name, "..")) {
		*errp = -EINVAL;
		return NULL;
	}
	return name;
}

static void drop_all(struct fs_server *s)
{
	for (size_t i = 2; i < s->nslots; i++)
		if (s->inodes[i])
			inode_drop(s, s->inodes[i]);
	for (size_t i = 0; i < s->nhandle_slots; i++)
		if (s->handles[i].in_use)
			fs_handle_close(s, i + 1);
	if (s->inodes[FUSE_ROOT_ID])
		s->inodes[FUSE_ROOT_ID]->nlookup = 1;
}

static int op_init(struct fs_req *r)
{
	struct fuse_init_in in = {0};
	struct fuse_init_out *out = (struct fuse_init_out *)FS_BODY(r);
	/* Older drivers send a shorter fuse_init_in; the rest reads as zero. */
	memcpy(&in, r->arg, r->arglen < sizeof(in) ? r->arglen : sizeof(in));
	if (r->arglen < 16)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FUSE_KERNEL_MINOR_VERSION;
	if (in.major < 7)
		return -EPROTO;
	if (in.major > 7)
		return sizeof(*out); /* the driver answers with a 7.x INIT */
	if (r->s->initialized)
		drop_all(r->s); /* a new session starts from nothing */
	r->s->initialized = true;
	r->s->minor = in.minor < FUSE_KERNEL_MINOR_VERSION ? in.minor : FUSE_KERNEL_MINOR_VERSION;
	/* No writeback cache and no DAX: the host's copy is the only one, so
	 * host-side changes show up (page cache dropped when mtime changes). */
	/* READDIRPLUS (auto: the driver picks it when it will look the names
	 * up anyway) saves a LOOKUP round trip per name of `ls -l` and `find`. */
	uint32_t want = FUSE_ASYNC_READ | FUSE_AUTO_INVAL_DATA | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES |
			FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
	out->flags = in.flags & want;
	out->max_readahead = in.max_readahead;
	out->max_background = 64;
	out->congestion_threshold = 48;
	out->max_write = FS_MAX_IO;
	out->time_gran = 1;
	out->max_pages = FS_MAX_IO / 4096;
	/* Drivers before 7.23 know a shorter reply. */
	return r->s->minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : (int)sizeof(*out);
}

static int op_destroy(struct fs_req *r)
{
	drop_all(r->s);
	r->s->initialized = false;
	return 0;
}

static int op_forget(struct fs_req *r)
{
	const struct fuse_forget_in *f = (const void *)r->arg;
	struct fs_inode *in;

	r->no_reply = true;
	if (r->arglen >= sizeof(*f) && (in = fs_inode_get(r->s, r->h->nodeid)))
		fs_inode_forget(r->s, in, f->nlookup);
	return 0;
}

static int op_batch_forget(struct fs_req *r)
{
	const struct fuse_batch_forget_in *b = (const void *)r->arg;

	r->no_reply = true;
	if (r->arglen < sizeof(*b))
		return 0;
	/* Only the entries actually in the request: count is the guest's word. */
	size_t n = (r->arglen - sizeof(*b)) / sizeof(struct fuse_forget_one);
	if (b->count < n)
		n = b->count;
	const struct fuse_forget_one *one = (const void *)(r->arg + sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		struct fs_inode *in = fs_inode_get(r->s, one[i].nodeid);
		if (in)
			fs_inode_forget(r->s, in, one[i].nlookup);
	}
	return 0;
}

static int dispatch(struct fs_req *r)
{
	uint32_t op = r->h->opcode;

	if (op == FUSE_INIT)
		return op_init(r);
	if (!r->s->initialized)
		return -EIO;
	switch (op) {
	case FUSE_DESTROY:
		return op_destroy(r);
	case FUSE_FORGET:
		return op_forget(r);
	case FUSE_BATCH_FORGET:
		return op_batch_forget(r);
	case FUSE_INTERRUPT:
		r->no_reply = true;
		return 0; /* nothing waits: requests finish in order */
	case FUSE_LOOKUP:
		return fs_op_lookup(r);
	case FUSE_GETATTR:
		return fs_op_getattr(r);
	case FUSE_SETATTR:
		return fs_op_setattr(r);
	case FUSE_READLINK:
		return fs_op_readlink(r);
	case FUSE_SYMLINK:
		return fs_op_symlink(r);
	case FUSE_MKNOD:
		return fs_op_mknod(r);
	case FUSE_MKDIR:
		return fs_op_mkdir(r);
	case FUSE_UNLINK:
		return fs_op_unlink(r);
	case FUSE_RMDIR:
		return fs_op_rmdir(r);
	case FUSE_RENAME:
		return fs_op_rename(r);
	case FUSE_RENAME2:
		return fs_op_rename2(r);
	case FUSE_LINK:
		return fs_op_link(r);
	case FUSE_STATFS:
		return fs_op_statfs(r);
	case FUSE_CREATE:
		return fs_op_create(r);
	case FUSE_OPEN:
		return fs_op_open(r);
	case FUSE_READ:
		return fs_op_read(r);
	case FUSE_WRITE:
		return fs_op_write(r);
	case FUSE_RELEASE:
		return fs_op_release(r);
	case FUSE_FLUSH:
		return fs_op_flush(r);
	case FUSE_FSYNC:
		return fs_op_fsync(r);
	case FUSE_OPENDIR:
		return fs_op_opendir(r);
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return fs_op_readdir(r);
	case FUSE_RELEASEDIR:
		return fs_op_release(r);
	case FUSE_FSYNCDIR:
		return fs_op_fsync(r);
	case FUSE_FALLOCATE:
		return fs_op_fallocate(r);
	case FUSE_LSEEK:
		return fs_op_lseek(r);
	default:
		/* ENOSYS tells the driver not to ask again: xattrs, ACCESS (it
		 * checks permissions itself), locks (it keeps them locally),
		 * copy_file_range, ioctl, poll, DAX mappings. */
		return -ENOSYS;
	}
}

size_t fs_server_handle(struct fs_server *s, const struct iovec *req, unsigned nreq,
			const struct iovec *reply, unsigned nreply)
{
	struct fuse_in_header h;
	struct fs_req r = {.s = s, .h = &h, .out = req, .nout = nreq, .in = reply, .nin = nreply};

	for (unsigned i = 0; i < nreq; i++)
		r.out_len += req[i].iov_len;
	for (unsigned i = 0; i < nreply; i++)
		r.in_len += reply[i].iov_len;
	size_t n = r.out_len < FS_REQ_MAX ? r.out_len : FS_REQ_MAX;
	if (n < sizeof(h))
		return 0; /* no unique id to answer to */
	n = iov_copy_from(req, nreq, 0, s->req, n);
	memcpy(&h, s->req, sizeof(h));
	int ret;
	if (h.len < sizeof(h) || h.len > r.out_len) {
		ret = -EINVAL;
	} else {
		r.arg = s->req + sizeof(h);
		r.arglen = (h.len < n ? h.len : n) - sizeof(h);
		ret = dispatch(&r);
	}
	if (s->trace)
		fprintf(stderr, "vmkit-fs: op %u node %llu -> %d\n", h.opcode, (unsigned long long)h.nodeid,
			ret);
	if (r.no_reply)
		return 0;
	struct fuse_out_header oh = {.unique = h.unique};
	size_t body = 0;
	if (ret < 0) {
		oh.error = ret;
	} else if (r.is_direct) {
		body = r.direct;
	} else {
		body = (size_t)ret;
		if (sizeof(oh) + body > r.in_len) {
			/* The driver's buffer is too small for a reply it asked for. */
			oh.error = -EINVAL;
			body = 0;
		}
	}
	if (r.in_len < sizeof(oh))
		return 0;
	oh.len = (uint32_t)(sizeof(oh) + body);
	memcpy(s->reply, &oh, sizeof(oh));
	if (r.is_direct && ret >= 0) {
		iov_copy_to(reply, nreply, 0, &oh, sizeof(oh));
		return sizeof(oh) + body;
	}
	return iov_copy_to(reply, nreply, 0, s->reply, sizeof(oh) + body);
}

void fs_server_reset(struct fs_server *s)
{
	drop_all(s);
	s->initialized = false;
}

struct fs_server *fs_server_new(const struct vmk_fs_device *cfg, vmk_error **err)
{
	struct fs_server *s = calloc(1, sizeof(*s));

	if (!s) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "fs_device", "out of memory");
		return NULL;
	}
	s->proc_fd = -1;
	for (unsigned i = 0; i < VMK_FS_MAX_DIRECTORIES; i++)
		s->shares[i].fd = -1;
	s->multiple = cfg->multiple;
	s->as_root = geteuid() == 0;
	/* VMKIT_FS_TRACE=1: one line per request on stderr, for debugging drivers. */
	s->trace = getenv("VMKIT_FS_TRACE") != NULL;
	clock_gettime(CLOCK_REALTIME, &s->start);
	s->fd_budget = fd_budget();
	s->nslots = 64;
	s->hash_size = 64;
	s->inodes = calloc(s->nslots, sizeof(*s->inodes));
	s->hash = calloc(s->hash_size, sizeof(*s->hash));
	if (!s->inodes || !s->hash) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "fs_device", "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < cfg->ndirs; i++) {
		struct fs_share *sh = &s->shares[i];
		sh->fd = open(cfg->dirs[i].path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (sh->fd < 0) {
			vmk_set_errno(err, VMK_ERR_FS_DEVICE, "directory", errno, "%s: cannot open %s",
				      cfg->tag, cfg->dirs[i].path);
			goto fail;
		}
		sh->read_only = cfg->dirs[i].read_only;
		if (cfg->dirs[i].name && !(sh->name = strdup(cfg->dirs[i].name))) {
			vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "fs_device", "out of memory");
			goto fail;
		}
		s->nshares++;
	}
	/* Without /proc only directories can be opened: said, not hidden. */
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct fs_inode *root = calloc(1, sizeof(*root));
	if (!root) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "fs_device", "out of memory");
		goto fail;
	}
	*root = (struct fs_inode){.nodeid = FUSE_ROOT_ID, .fd = -1, .type = S_IFDIR, .nlookup = 1};
	if (!s->multiple) {
		struct stat st;
		root->fd = s->shares[0].fd;
		s->shares[0].fd = -1; /* the root inode owns it now */
		if (fstat(root->fd, &st) == 0) {
			root->dev = st.st_dev;
			root->ino = st.st_ino;
		}
		/* In the hash so a lookup reaching the root again finds node 1. */
		root->hnext = s->hash[hash_of(s, root->dev, root->ino, 0)];
		s->hash[hash_of(s, root->dev, root->ino, 0)] = root;
	}
	s->inodes[FUSE_ROOT_ID] = root;
	return s;
fail:
	fs_server_free(s);
	return NULL;
}

void fs_server_free(struct fs_server *s)
{
	if (!s)
		return;
	if (s->inodes) {
		drop_all(s);
		struct fs_inode *root = s->inodes[FUSE_ROOT_ID];
		if (root) {
			if (root->fd >= 0)
				close(root->fd);
			free(root);
		}
	}
	for (unsigned i = 0; i < VMK_FS_MAX_DIRECTORIES; i++) {
		if (s->shares[i].fd >= 0)
			close(s->shares[i].fd);
		free(s->shares[i].name);
	}
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	free(s->inodes);
	free(s->hash);
	free(s->handles);
	free(s);
}
