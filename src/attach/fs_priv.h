/* Inside the FUSE server (fs_server.c: state, tables, dispatch; fs_ops.c:
 * names and attributes; fs_io.c: open files and directories). */
#ifndef VMK_ATTACH_FS_PRIV_H
#define VMK_ATTACH_FS_PRIV_H

#include "attach/fs_server.h"
#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/* Request arguments copied out of guest memory: the longest is SYMLINK's
 * name and target (255 + 4096). WRITE data is not copied. */
#define FS_REQ_MAX (16u << 10)
/* The largest reply built in host memory (READDIR); READ goes straight to
 * the guest's buffers. */
#define FS_REPLY_MAX (128u << 10)
/* Entries and attributes are cached by the guest this long, so host-side
 * changes show within a second (virtiofsd's cache=auto). */
#define FS_TIMEOUT_SEC 1

struct fs_inode {
	uint64_t nodeid;
	int fd; /* O_PATH, never following a link; -1: the virtual root */
	dev_t dev;
	ino_t ino;
	uint32_t type; /* S_IFMT bits */
	uint32_t share;
	uint64_t nlookup;
	uint64_t generation;
	struct fs_inode *hnext;
};

struct fs_handle {
	int fd; /* -1: the virtual root's listing */
	bool in_use, dir, writable;
	uint32_t share;
	/* A directory's listing (fs_io.c): the records read from fd that the
	 * driver may still ask for again, dbase the offset before the first.
	 * dvalid: fd is positioned right after the last record kept. */
	uint8_t *dbuf;
	uint32_t dlen, dcap;
	uint64_t dbase;
	bool dvalid;
};

struct fs_share {
	char *name; /* multiple share: its entry in the root */
	int fd;	    /* O_PATH of the directory */
	bool read_only;
};

struct fs_server {
	struct fs_share shares[VMK_FS_MAX_DIRECTORIES];
	unsigned nshares;
	bool multiple;
	int proc_fd; /* /proc/self/fd: reopens an O_PATH inode for I/O */
	bool as_root;
	bool trace;
	bool initialized;
	uint32_t minor;
	struct timespec start;

	struct fs_inode **inodes; /* by nodeid; 0 unused, 1 the root */
	size_t nslots, ninodes;
	struct fs_inode **hash; /* by (dev, ino, share) */
	size_t hash_size;
	uint64_t next_generation;

	struct fs_handle *handles; /* fh = index + 1 */
	size_t nhandle_slots, nhandles;

	/* Inode and handle descriptors together stay below this, so a guest
	 * cannot take every descriptor of the process. */
	size_t fd_budget, fds_used;

	/* Aligned: the FUSE structures are read and written in place. */
	uint8_t req[FS_REQ_MAX] __attribute__((aligned(16)));
	uint8_t reply[sizeof(struct fuse_out_header) + FS_REPLY_MAX] __attribute__((aligned(16)));
};

/* One request being served. */
struct fs_req {
	struct fs_server *s;
	const struct fuse_in_header *h;
	const uint8_t *arg; /* arguments after the header */
	size_t arglen;
	const struct iovec *out; /* the whole request, for WRITE's data */
	unsigned nout;
	size_t out_len;
	const struct iovec *in; /* reply buffers */
	unsigned nin;
	size_t in_len;
	/* Set by a handler that wrote its payload into `in` itself (READ). */
	size_t direct;
	bool is_direct, no_reply;
};

/* Handlers return a negative errno, or the reply body's length placed at
 * s->reply + sizeof(struct fuse_out_header). */
#define FS_BODY(r) ((r)->s->reply + sizeof(struct fuse_out_header))

/* fs_server.c */
struct fs_inode *fs_inode_get(struct fs_server *s, uint64_t nodeid);
/* Finds or adds the inode for fd (which it takes over), nlookup + 1. */
int fs_inode_add(struct fs_server *s, int fd, const struct stat *st, uint32_t share, struct fs_inode **out);
void fs_inode_forget(struct fs_server *s, struct fs_inode *in, uint64_t n);
bool fs_read_only(const struct fs_server *s, const struct fs_inode *in);
int fs_handle_add(struct fs_server *s, int fd, bool dir, bool writable, uint32_t share, uint64_t *fh);
struct fs_handle *fs_handle_get(struct fs_server *s, uint64_t fh, bool dir);
void fs_handle_close(struct fs_server *s, uint64_t fh);
/* The NUL-terminated string at r->arg + *off, checked as one file name
 * (1-255 bytes, no '/', not . or ..); *off moves past it. NULL: invalid. */
const char *fs_arg_name(struct fs_req *r, size_t *off, int *errp);
/* Opens the inode itself for I/O through /proc/self/fd (regular files and
 * directories only). */
int fs_reopen(struct fs_server *s, const struct fs_inode *in, int flags);
/* One component beneath dirfd, as O_PATH, links not followed. */
int fs_open_beneath(int dirfd, const char *name);
void fs_fill_attr(struct fuse_attr *a, const struct stat *st);
int fs_stat(const struct fs_server *s, const struct fs_inode *in, struct stat *st);

/* fs_ops.c */
/* Looks name up beneath parent (a directory) and takes one reference. */
int fs_lookup(struct fs_req *r, struct fs_inode *parent, const char *name, struct fs_inode **out,
	      struct stat *st);
void fs_fill_entry(struct fuse_entry_out *e, const struct fs_inode *in, const struct stat *st);
int fs_op_lookup(struct fs_req *r);
int fs_op_getattr(struct fs_req *r);
int fs_op_setattr(struct fs_req *r);
int fs_op_readlink(struct fs_req *r);
int fs_op_symlink(struct fs_req *r);
int fs_op_mknod(struct fs_req *r);
int fs_op_mkdir(struct fs_req *r);
int fs_op_unlink(struct fs_req *r);
int fs_op_rmdir(struct fs_req *r);
int fs_op_rename(struct fs_req *r);
int fs_op_rename2(struct fs_req *r);
int fs_op_link(struct fs_req *r);
int fs_op_statfs(struct fs_req *r);
int fs_op_create(struct fs_req *r);

/* fs_io.c */
int fs_op_open(struct fs_req *r);
int fs_op_read(struct fs_req *r);
int fs_op_write(struct fs_req *r);
int fs_op_release(struct fs_req *r);
int fs_op_flush(struct fs_req *r);
int fs_op_fsync(struct fs_req *r);
int fs_op_opendir(struct fs_req *r);
int fs_op_readdir(struct fs_req *r); /* READDIR and READDIRPLUS */
int fs_op_fallocate(struct fs_req *r);
int fs_op_lseek(struct fs_req *r);

#endif
