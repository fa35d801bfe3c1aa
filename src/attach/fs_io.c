/* FUSE operations on open files and directories. READ and WRITE move data
 * straight between the host file and the guest's buffers (no bounce copy);
 * every size and offset is the guest's and is bounded by its buffers and by
 * FS_MAX_IO. */
#include "attach/fs_priv.h"
#include "core/iov.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FS_SLICE_MAX 1024

int fs_op_open(struct fs_req *r)
{
	struct fs_server *s = r->s;
	const struct fuse_open_in *o = (const void *)r->arg;
	struct fs_inode *in = fs_inode_get(s, r->h->nodeid);
	uint64_t fh;

	if (r->arglen < sizeof(*o))
		return -EINVAL;
	if (!in)
		return -ENOENT;
	if (S_ISDIR(in->type))
		return -EISDIR;
	/* FIFOs, sockets and devices are the guest kernel's business; opening
	 * them here could block this thread or reach a host device. */
	if (!S_ISREG(in->type))
		return -ENXIO;
	int flags = (int)(o->flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_DSYNC | O_SYNC));
	bool writable = (flags & O_ACCMODE) != O_RDONLY;
	if ((writable || (flags & O_TRUNC)) && fs_read_only(s, in))
		return -EROFS;
	int fd = fs_reopen(s, in, flags);
	if (fd < 0)
		return fd;
	int e = fs_handle_add(s, fd, false, writable, in->share, &fh);
	if (e)
		return e;
	struct fuse_open_out *out = (struct fuse_open_out *)FS_BODY(r);
	memset(out, 0, sizeof(*out));
	out->fh = fh;
	return sizeof(*out);
}

int fs_op_read(struct fs_req *r)
{
	const struct fuse_read_in *rd = (const void *)r->arg;
	struct iovec v[FS_SLICE_MAX];

	if (r->arglen < sizeof(*rd))
		return -EINVAL;
	struct fs_handle *h = fs_handle_get(r->s, rd->fh, false);
	if (!h)
		return -EBADF;
	if (rd->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	size_t want = rd->size < FS_MAX_IO ? rd->size : FS_MAX_IO;
	size_t room = r->in_len - sizeof(struct fuse_out_header);
	if (r->in_len < sizeof(struct fuse_out_header))
		return -EINVAL;
	if (want > room)
		want = room;
	unsigned k = iov_slice(r->in, r->nin, sizeof(struct fuse_out_header), want, v, FS_SLICE_MAX);
	ssize_t n = k ? preadv(h->fd, v, (int)k, (off_t)rd->offset) : 0;
	if (n < 0)
		return -errno;
	r->is_direct = true;
	r->direct = (size_t)n;
	return 0;
}

int fs_op_write(struct fs_req *r)
{
	const struct fuse_write_in *w = (const void *)r->arg;
	struct iovec v[FS_SLICE_MAX];
	const size_t data = sizeof(struct fuse_in_header) + sizeof(*w);

	if (r->arglen < sizeof(*w))
		return -EINVAL;
	struct fs_handle *h = fs_handle_get(r->s, w->fh, false);
	if (!h || !h->writable)
		return -EBADF;
	if (w->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* The data must be inside the request the guest described. */
	if (w->size > FS_MAX_IO || data + w->size > r->h->len)
		return -EINVAL;
	unsigned k = iov_slice(r->out, r->nout, data, w->size, v, FS_SLICE_MAX);
	ssize_t n = k ? pwritev(h->fd, v, (int)k, (off_t)w->offset) : 0;
	if (n < 0)
		return -errno;
	struct fuse_write_out *o = (struct fuse_write_out *)FS_BODY(r);
	memset(o, 0, sizeof(*o));
	o->size = (uint32_t)n;
	return sizeof(*o);
}

int fs_op_release(struct fs_req *r)
{
	const struct fuse_release_in *rl = (const void *)r->arg;

	if (r->arglen < sizeof(*rl))
		return -EINVAL;
	bool dir = r->h->opcode == FUSE_RELEASEDIR;
	if (!fs_handle_get(r->s, rl->fh, dir))
		return -EBADF;
	fs_handle_close(r->s, rl->fh);
	return 0;
}

int fs_op_flush(struct fs_req *r)
{
	const struct fuse_flush_in *f = (const void *)r->arg;

	if (r->arglen < sizeof(*f))
		return -EINVAL;
	/* Writes are not buffered here: nothing to push out at close. */
	return fs_handle_get(r->s, f->fh, false) ? 0 : -EBADF;
}

int fs_op_fsync(struct fs_req *r)
{
	const struct fuse_fsync_in *f = (const void *)r->arg;

	if (r->arglen < sizeof(*f))
		return -EINVAL;
	struct fs_handle *h = fs_handle_get(r->s, f->fh, r->h->opcode == FUSE_FSYNCDIR);
	if (!h)
		return -EBADF;
	if (h->fd < 0)
		return 0;
	int ret = (f->fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd);
	return ret ? -errno : 0;
}

int fs_op_opendir(struct fs_req *r)
{
	struct fs_server *s = r->s;
	struct fs_inode *in = fs_inode_get(s, r->h->nodeid);
	uint64_t fh;
	int fd = -1, e;

	if (!in)
		return -ENOENT;
	if (!S_ISDIR(in->type))
		return -ENOTDIR;
	if (in->fd >= 0 && (fd = fs_reopen(s, in, O_RDONLY)) < 0)
		return fd;
	if ((e = fs_handle_add(s, fd, true, false, in->share, &fh)))
		return e;
	struct fuse_open_out *out = (struct fuse_open_out *)FS_BODY(r);
	memset(out, 0, sizeof(*out));
	out->fh = fh;
	return sizeof(*out);
}

/* A READDIR or READDIRPLUS reply being filled. */
struct dir_out {
	struct fs_req *r;
	struct fs_inode *dir; /* READDIRPLUS: where the names are looked up */
	uint8_t *buf;
	size_t size, used;
	bool plus;
};

/* Appends one entry if it fits; false when the reply is full. READDIRPLUS
 * looks the name up (a reference the driver will FORGET) only once the
 * entry is known to fit, so a full reply leaks no reference. */
static bool emit(struct dir_out *o, uint64_t ino, uint64_t off, uint32_t type, const char *name,
		 size_t namelen)
{
	size_t len = FUSE_DIRENT_SIZE(&(struct fuse_dirent){.namelen = (uint32_t)namelen});
	size_t entry = o->plus ? sizeof(struct fuse_entry_out) : 0;

	if (namelen > 255 || o->used + entry + len > o->size)
		return false;
	uint8_t *p = o->buf + o->used;
	if (o->plus) {
		struct fuse_entry_out *e = (struct fuse_entry_out *)p;
		bool dots =
		    (namelen == 1 && name[0] == '.') || (namelen == 2 && name[0] == '.' && name[1] == '.');
		char nm[256];
		struct fs_inode *in;
		struct stat st;
		memset(e, 0, sizeof(*e));
		memcpy(nm, name, namelen);
		nm[namelen] = 0;
		/* Node id 0 (dots, or a name that vanished) lists the name alone. */
		if (!dots && fs_lookup(o->r, o->dir, nm, &in, &st) == 0)
			fs_fill_entry(e, in, &st);
		p += entry;
	}
	struct fuse_dirent *d = (struct fuse_dirent *)p;
	d->ino = ino;
	d->off = off;
	d->namelen = (uint32_t)namelen;
	d->type = type;
	memcpy(d->name, name, namelen);
	memset(d->name + namelen, 0, len - FUSE_NAME_OFFSET - namelen);
	o->used += entry + len;
	return true;
}

/* The virtual root's listing: offsets 1 ".", 2 "..", 3... the share names. */
static size_t list_root(struct fs_server *s, struct dir_out *o, uint64_t off)
{
	for (uint64_t i = off; i < 2 + (uint64_t)s->nshares; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : s->shares[i - 2].name;
		if (!emit(o, i < 2 ? 1 : 2 + i, i + 1, DT_DIR, name, strlen(name)))
			break;
	}
	return o->used;
}

/* A directory's records are read FS_DIR_READ bytes at a time into the
 * handle's buffer, replies carry at most FS_DIR_REPLY_MAX bytes, so the
 * buffer (what the last reply sent, plus one read) stays below
 * FS_DIR_BUF_MAX: linux_dirent64 records are no larger than FUSE's. */
#define FS_DIR_READ	 8192u
#define FS_DIR_REPLY_MAX 32768u
#define FS_DIR_BUF_MAX	 (128u << 10)

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int fs_op_readdir(struct fs_req *r)
{
	const struct fuse_read_in *rd = (const void *)r->arg;
	struct dir_out o = {.r = r, .buf = FS_BODY(r), .plus = r->h->opcode == FUSE_READDIRPLUS};

	if (r->arglen < sizeof(*rd))
		return -EINVAL;
	struct fs_handle *h = fs_handle_get(r->s, rd->fh, true);
	if (!h)
		return -EBADF;
	if (o.plus && (!(o.dir = fs_inode_get(r->s, r->h->nodeid)) || !S_ISDIR(o.dir->type) ||
		       (o.dir->fd < 0) != (h->fd < 0)))
		return -EINVAL; /* the names are looked up in the node the request names */
	o.size = rd->size < FS_REPLY_MAX ? rd->size : FS_REPLY_MAX;
	if (r->in_len < sizeof(struct fuse_out_header))
		return -EINVAL;
	if (o.size > r->in_len - sizeof(struct fuse_out_header))
		o.size = r->in_len - sizeof(struct fuse_out_header);
	if (h->fd < 0)
		return (int)list_root(r->s, &o, rd->offset);
	if (rd->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* Offsets are the file system's own cookies (d_off). The driver asks
	 * again from the last entry it could pass on, which may be before the
	 * end of our last reply (its caller's buffer filled). Where a cookie
	 * is a position (tmpfs before Linux 6.6, ramfs), seeking back to it
	 * after the guest removed entries it had read skips as many others:
	 * rm -rf then failed with ENOTEMPTY (bench/fs.sh). So the records sent
	 * last stay in the handle, and a request from one of them resumes
	 * there without a seek; only another offset seeks. */
	if (o.size > FS_DIR_REPLY_MAX)
		o.size = FS_DIR_REPLY_MAX; /* a short reply is fine: it asks again */
	size_t start = 0;
	bool found = h->dvalid && rd->offset == h->dbase;
	for (size_t p = 0; h->dvalid && !found && p < h->dlen;) {
		const struct linux_dirent64 *d = (const void *)(h->dbuf + p);
		p += d->d_reclen;
		if ((uint64_t)d->d_off == rd->offset) {
			start = p;
			found = true;
		}
	}
	if (found) {
		memmove(h->dbuf, h->dbuf + start, h->dlen - start);
		h->dlen -= (uint32_t)start;
	} else {
		h->dvalid = false;
		if (lseek(h->fd, (off_t)rd->offset, SEEK_SET) < 0)
			return -errno;
		h->dlen = 0;
		h->dvalid = true;
	}
	h->dbase = rd->offset;
	for (size_t p = 0;;) {
		if (p == h->dlen) {
			if (h->dcap - h->dlen < FS_DIR_READ) {
				/* Bounded: what one reply sent plus one read. */
				uint32_t n = h->dcap ? h->dcap * 2 : 2 * FS_DIR_READ;
				uint8_t *b = n <= FS_DIR_BUF_MAX ? realloc(h->dbuf, n) : NULL;
				if (!b)
					return o.used ? (int)o.used : -ENOMEM;
				h->dbuf = b;
				h->dcap = n;
			}
			long n = syscall(SYS_getdents64, h->fd, h->dbuf + h->dlen, FS_DIR_READ);
			if (n < 0)
				return o.used ? (int)o.used : -errno;
			if (n == 0)
				return (int)o.used;
			h->dlen += (uint32_t)n;
		}
		const struct linux_dirent64 *d = (const void *)(h->dbuf + p);
		if (!emit(&o, d->d_ino, (uint64_t)d->d_off, d->d_type, d->d_name, strlen(d->d_name)))
			return (int)o.used;
		p += d->d_reclen;
	}
}

int fs_op_fallocate(struct fs_req *r)
{
	const struct fuse_fallocate_in *f = (const void *)r->arg;

	if (r->arglen < sizeof(*f))
		return -EINVAL;
	struct fs_handle *h = fs_handle_get(r->s, f->fh, false);
	if (!h || !h->writable)
		return -EBADF;
	if (f->offset > (uint64_t)INT64_MAX || f->length > (uint64_t)INT64_MAX)
		return -EINVAL;
	return fallocate(h->fd, (int)f->mode, (off_t)f->offset, (off_t)f->length) ? -errno : 0;
}

int fs_op_lseek(struct fs_req *r)
{
	const struct fuse_lseek_in *l = (const void *)r->arg;

	if (r->arglen < sizeof(*l))
		return -EINVAL;
	struct fs_handle *h = fs_handle_get(r->s, l->fh, false);
	if (!h)
		return -EBADF;
	if ((l->whence != SEEK_DATA && l->whence != SEEK_HOLE) || l->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	off_t o = lseek(h->fd, (off_t)l->offset, (int)l->whence);
	if (o < 0)
		return -errno;
	struct fuse_lseek_out *out = (struct fuse_lseek_out *)FS_BODY(r);
	out->offset = (uint64_t)o;
	return sizeof(*out);
}
