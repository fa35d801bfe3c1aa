/* FUSE operations on names and attributes. Every name is one component
 * (fs_arg_name) resolved beneath a directory inode the server already holds,
 * with the *at() calls and without following links, so neither `..`, nor a
 * link planted in the share, nor a rename racing a lookup reaches outside. */
#include "attach/fs_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int dir_inode(struct fs_req *r, uint64_t nodeid, struct fs_inode **out)
{
	struct fs_inode *in = fs_inode_get(r->s, nodeid);

	if (!in)
		return -ENOENT;
	if (!S_ISDIR(in->type))
		return -ENOTDIR;
	*out = in;
	return 0;
}

void fs_fill_entry(struct fuse_entry_out *e, const struct fs_inode *in, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = in->nodeid;
	e->generation = in->generation;
	e->entry_valid = e->attr_valid = FS_TIMEOUT_SEC;
	fs_fill_attr(&e->attr, st);
}

static int reply_entry(struct fs_req *r, const struct fs_inode *in, const struct stat *st)
{
	fs_fill_entry((struct fuse_entry_out *)FS_BODY(r), in, st);
	return sizeof(struct fuse_entry_out);
}

/* Looks name up beneath parent and takes one reference on its inode. */
int fs_lookup(struct fs_req *r, struct fs_inode *parent, const char *name, struct fs_inode **out,
	      struct stat *st)
{
	struct fs_server *s = r->s;
	uint32_t share = parent->share;
	int fd;

	if (parent->fd < 0) {
		/* The virtual root of a multiple share lists the share names. */
		unsigned i = 0;
		while (i < s->nshares && strcmp(s->shares[i].name, name))
			i++;
		if (i == s->nshares)
			return -ENOENT;
		if ((fd = fcntl(s->shares[i].fd, F_DUPFD_CLOEXEC, 0)) < 0)
			return -errno;
		share = i;
	} else if ((fd = fs_open_beneath(parent->fd, name)) < 0) {
		return fd;
	}
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fs_inode_add(s, fd, st, share, out);
}

int fs_op_lookup(struct fs_req *r)
{
	struct fs_inode *parent, *in;
	struct stat st;
	size_t off = 0;
	int e;
	const char *name = fs_arg_name(r, &off, &e);

	if (!name)
		return e;
	if ((e = dir_inode(r, r->h->nodeid, &parent)) || (e = fs_lookup(r, parent, name, &in, &st)))
		return e;
	return reply_entry(r, in, &st);
}

int fs_op_getattr(struct fs_req *r)
{
	struct fs_inode *in = fs_inode_get(r->s, r->h->nodeid);
	struct fuse_attr_out *a = (struct fuse_attr_out *)FS_BODY(r);
	struct stat st;

	if (!in)
		return -ENOENT;
	int e = fs_stat(r->s, in, &st);
	if (e)
		return e;
	memset(a, 0, sizeof(*a));
	a->attr_valid = FS_TIMEOUT_SEC;
	fs_fill_attr(&a->attr, &st);
	return sizeof(*a);
}

/* chmod/utimens on the inode itself: through its /proc/self/fd link, which
 * names exactly that inode (never a link's target: links are refused). */
static int proc_name(const struct fs_server *s, const struct fs_inode *in, char *buf, size_t n)
{
	if (s->proc_fd < 0)
		return -EOPNOTSUPP;
	if (S_ISLNK(in->type))
		return -EOPNOTSUPP; /* Linux ignores a link's own mode */
	snprintf(buf, n, "%d", in->fd);
	return 0;
}

int fs_op_setattr(struct fs_req *r)
{
	struct fs_server *s = r->s;
	struct fs_inode *in = fs_inode_get(s, r->h->nodeid);
	const struct fuse_setattr_in *a = (const void *)r->arg;
	char pn[16];
	int e;

	if (r->arglen < sizeof(*a))
		return -EINVAL;
	if (!in)
		return -ENOENT;
	if (fs_read_only(s, in))
		return -EROFS;
	struct fs_handle *h = (a->valid & FATTR_FH) ? fs_handle_get(s, a->fh, false) : NULL;
	if ((a->valid & FATTR_FH) && !h)
		return -EBADF;
	if (a->valid & FATTR_MODE) {
		if (h)
			e = fchmod(h->fd, a->mode & 07777) ? -errno : 0;
		else if (!(e = proc_name(s, in, pn, sizeof(pn))))
			e = fchmodat(s->proc_fd, pn, a->mode & 07777, 0) ? -errno : 0;
		if (e)
			return e;
	}
	if (a->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (a->valid & FATTR_UID) ? a->uid : (uid_t)-1;
		gid_t gid = (a->valid & FATTR_GID) ? a->gid : (gid_t)-1;
		if (fchownat(in->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			return -errno;
	}
	if (a->valid & FATTR_SIZE) {
		if (a->size > (uint64_t)INT64_MAX)
			return -EFBIG;
		if (h) {
			if (!h->writable)
				return -EBADF;
			e = ftruncate(h->fd, (off_t)a->size) ? -errno : 0;
		} else {
			if (S_ISDIR(in->type))
				return -EISDIR;
			int fd = fs_reopen(s, in, O_WRONLY);
			if (fd < 0)
				return fd;
			e = ftruncate(fd, (off_t)a->size) ? -errno : 0;
			close(fd);
		}
		if (e)
			return e;
	}
	if (a->valid & (FATTR_ATIME | FATTR_MTIME)) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
		if (a->valid & FATTR_ATIME)
			ts[0] = (a->valid & FATTR_ATIME_NOW)
				    ? (struct timespec){.tv_nsec = UTIME_NOW}
				    : (struct timespec){.tv_sec = (time_t)a->atime,
							.tv_nsec = a->atimensec % 1000000000};
		if (a->valid & FATTR_MTIME)
			ts[1] = (a->valid & FATTR_MTIME_NOW)
				    ? (struct timespec){.tv_nsec = UTIME_NOW}
				    : (struct timespec){.tv_sec = (time_t)a->mtime,
							.tv_nsec = a->mtimensec % 1000000000};
		if (h)
			e = futimens(h->fd, ts) ? -errno : 0;
		else if (utimensat(in->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
			e = 0;
		else if (!(e = proc_name(s, in, pn, sizeof(pn))))
			e = utimensat(s->proc_fd, pn, ts, 0) ? -errno : 0;
		if (e)
			return e;
	}
	return fs_op_getattr(r);
}

int fs_op_readlink(struct fs_req *r)
{
	struct fs_inode *in = fs_inode_get(r->s, r->h->nodeid);

	if (!in)
		return -ENOENT;
	if (!S_ISLNK(in->type))
		return -EINVAL;
	ssize_t n = readlinkat(in->fd, "", (char *)FS_BODY(r), PATH_MAX);
	return n < 0 ? -errno : (int)n;
}

/* After a create: the caller owns it (when we are root) and it has the mode
 * asked for (the guest's kernel applied its umask; ours must not apply too). */
static void settle_new(struct fs_req *r, struct fs_inode *in, struct stat *st, uint32_t mode)
{
	struct fs_server *s = r->s;
	char pn[16];

	if (s->as_root &&
	    fchownat(in->fd, "", r->h->uid, r->h->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		st->st_uid = r->h->uid, st->st_gid = r->h->gid;
	if (!S_ISLNK(in->type) && (st->st_mode & 07777) != (mode & 07777) &&
	    !proc_name(s, in, pn, sizeof(pn)) && fchmodat(s->proc_fd, pn, mode & 07777, 0) == 0)
		st->st_mode = (st->st_mode & S_IFMT) | (mode & 07777);
	if (s->as_root)
		fstatat(in->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW); /* ctime moved */
}

/* The parent for a change: a directory of a writable share. */
static int writable_dir(struct fs_req *r, uint64_t nodeid, struct fs_inode **out)
{
	int e = dir_inode(r, nodeid, out);

	if (e)
		return e;
	return fs_read_only(r->s, *out) ? -EROFS : 0;
}

static int made(struct fs_req *r, struct fs_inode *parent, const char *name, uint32_t mode)
{
	struct fs_inode *in;
	struct stat st;
	int e = fs_lookup(r, parent, name, &in, &st);

	if (e)
		return e;
	settle_new(r, in, &st, mode);
	return reply_entry(r, in, &st);
}

int fs_op_mkdir(struct fs_req *r)
{
	const struct fuse_mkdir_in *m = (const void *)r->arg;
	struct fs_inode *parent;
	size_t off = sizeof(*m);
	int e;

	if (r->arglen < sizeof(*m))
		return -EINVAL;
	const char *name = fs_arg_name(r, &off, &e);
	if (!name)
		return e;
	if ((e = writable_dir(r, r->h->nodeid, &parent)))
		return e;
	if (mkdirat(parent->fd, name, m->mode & 07777))
		return -errno;
	return made(r, parent, name, m->mode);
}

int fs_op_mknod(struct fs_req *r)
{
	const struct fuse_mknod_in *m = (const void *)r->arg;
	struct fs_inode *parent;
	size_t off = sizeof(*m);
	int e;

	if (r->arglen < sizeof(*m))
		return -EINVAL;
	const char *name = fs_arg_name(r, &off, &e);
	if (!name)
		return e;
	if ((e = writable_dir(r, r->h->nodeid, &parent)))
		return e;
	/* Device nodes would hand the guest the host's devices: never made. */
	if (!S_ISREG(m->mode) && !S_ISFIFO(m->mode) && !S_ISSOCK(m->mode))
		return -EPERM;
	if (mknodat(parent->fd, name, (m->mode & S_IFMT) | (m->mode & 07777), 0))
		return -errno;
	return made(r, parent, name, m->mode);
}

int fs_op_symlink(struct fs_req *r)
{
	struct fs_inode *parent;
	size_t off = 0;
	int e;
	const char *name = fs_arg_name(r, &off, &e);

	if (!name)
		return e;
	/* The target is the guest's text: stored, never resolved on the host. */
	const char *target = (const char *)r->arg + off;
	const char *nul = off < r->arglen ? memchr(target, 0, r->arglen - off) : NULL;
	if (!nul || nul == target)
		return -EINVAL;
	if (nul - target >= PATH_MAX)
		return -ENAMETOOLONG;
	if ((e = writable_dir(r, r->h->nodeid, &parent)))
		return e;
	if (symlinkat(target, parent->fd, name))
		return -errno;
	return made(r, parent, name, 0777);
}

static int remove_name(struct fs_req *r, int flags)
{
	struct fs_inode *parent;
	size_t off = 0;
	int e;
	const char *name = fs_arg_name(r, &off, &e);

	if (!name)
		return e;
	if ((e = writable_dir(r, r->h->nodeid, &parent)))
		return e;
	return unlinkat(parent->fd, name, flags) ? -errno : 0;
}

int fs_op_unlink(struct fs_req *r)
{
	return remove_name(r, 0);
}

int fs_op_rmdir(struct fs_req *r)
{
	return remove_name(r, AT_REMOVEDIR);
}

static int do_rename(struct fs_req *r, uint64_t newdir, uint32_t flags, size_t off)
{
	struct fs_inode *from, *to;
	int e;
	const char *oldname = fs_arg_name(r, &off, &e);
	const char *newname = oldname ? fs_arg_name(r, &off, &e) : NULL;

	if (!newname)
		return e;
	if ((e = writable_dir(r, r->h->nodeid, &from)) || (e = writable_dir(r, newdir, &to)))
		return e;
	if (from->share != to->share)
		return -EXDEV;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL; /* RENAME_WHITEOUT makes a device node */
	return renameat2(from->fd, oldname, to->fd, newname, flags) ? -errno : 0;
}

int fs_op_rename(struct fs_req *r)
{
	const struct fuse_rename_in *m = (const void *)r->arg;

	if (r->arglen < sizeof(*m))
		return -EINVAL;
	return do_rename(r, m->newdir, 0, sizeof(*m));
}

int fs_op_rename2(struct fs_req *r)
{
	const struct fuse_rename2_in *m = (const void *)r->arg;

	if (r->arglen < sizeof(*m))
		return -EINVAL;
	return do_rename(r, m->newdir, m->flags, sizeof(*m));
}

int fs_op_link(struct fs_req *r)
{
	const struct fuse_link_in *m = (const void *)r->arg;
	struct fs_inode *parent, *old;
	size_t off = sizeof(*m);
	char pn[16];
	int e;

	if (r->arglen < sizeof(*m))
		return -EINVAL;
	const char *name = fs_arg_name(r, &off, &e);
	if (!name)
		return e;
	if ((e = writable_dir(r, r->h->nodeid, &parent)))
		return e;
	if (!(old = fs_inode_get(r->s, m->oldnodeid)) || old->fd < 0)
		return -ENOENT;
	if (S_ISDIR(old->type))
		return -EPERM;
	if (old->share != parent->share)
		return -EXDEV;
	if (r->s->proc_fd < 0)
		return -EOPNOTSUPP;
	/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link of
	 * the inode's descriptor does not, and names the same inode. */
	snprintf(pn, sizeof(pn), "%d", old->fd);
	if (linkat(r->s->proc_fd, pn, parent->fd, name, AT_SYMLINK_FOLLOW))
		return -errno;
	struct fs_inode *in;
	struct stat st;
	if ((e = fs_lookup(r, parent, name, &in, &st)))
		return e;
	return reply_entry(r, in, &st);
}

int fs_op_statfs(struct fs_req *r)
{
	struct fs_server *s = r->s;
	struct fs_inode *in = fs_inode_get(s, r->h->nodeid);
	struct fuse_statfs_out *o = (struct fuse_statfs_out *)FS_BODY(r);
	struct statvfs v;

	if (!in)
		in = s->inodes[FUSE_ROOT_ID];
	int fd = in->fd >= 0 ? in->fd : s->shares[0].fd;
	if (fstatvfs(fd, &v))
		return -errno;
	memset(o, 0, sizeof(*o));
	o->st = (struct fuse_kstatfs){.blocks = v.f_blocks,
				      .bfree = v.f_bfree,
				      .bavail = v.f_bavail,
				      .files = v.f_files,
				      .ffree = v.f_ffree,
				      .bsize = (uint32_t)v.f_bsize,
				      .namelen = (uint32_t)v.f_namemax,
				      .frsize = (uint32_t)v.f_frsize};
	return sizeof(*o);
}

int fs_op_create(struct fs_req *r)
{
	struct fs_server *s = r->s;
	const struct fuse_create_in *c = (const void *)r->arg;
	struct fs_inode *parent, *in;
	struct stat st;
	size_t off = sizeof(*c);
	int e;

	if (r->arglen < sizeof(*c))
		return -EINVAL;
	const char *name = fs_arg_name(r, &off, &e);
	if (!name)
		return e;
	if ((e = writable_dir(r, r->h->nodeid, &parent)))
		return e;
	/* The guest's open flags that mean something for the host file; no
	 * O_DIRECT (guest buffers need not be aligned), no O_NOATIME. */
	int flags = (int)(c->flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_EXCL | O_DSYNC | O_SYNC));
	int fd = openat(parent->fd, name, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, c->mode & 07777);
	if (fd < 0)
		return -errno;
	struct stat fst;
	if (fstat(fd, &fst) || !S_ISREG(fst.st_mode)) {
		close(fd);
		return -EIO;
	}
	if ((e = fs_lookup(r, parent, name, &in, &st))) {
		close(fd);
		return e;
	}
	if (in->dev != fst.st_dev || in->ino != fst.st_ino) {
		/* Replaced on the host between the two calls. */
		fs_inode_forget(s, in, 1);
		close(fd);
		return -EAGAIN;
	}
	settle_new(r, in, &st, c->mode);
	uint64_t fh;
	if ((e = fs_handle_add(s, fd, false, (flags & O_ACCMODE) != O_RDONLY, in->share, &fh))) {
		fs_inode_forget(s, in, 1);
		return e;
	}
	int len = reply_entry(r, in, &st);
	struct fuse_open_out *o = (struct fuse_open_out *)(FS_BODY(r) + len);
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	return len + (int)sizeof(*o);
}
