/* libFuzzer target: the virtio-fs FUSE server fed request sequences the
 * fuzzer writes, on a real scratch directory (a file, a directory, a FIFO and
 * links pointing out of it). Each input is a fresh session (INIT, then up to
 * 32 requests of the fuzzer's bytes, header included, in request buffers split
 * where it says, with reply buffers of the size it says). Checked: a reply
 * never exceeds its buffers and its header tells the truth; no descriptor
 * outlives the server; nothing appears outside the share. */
#include "attach/fs_server.h"
#include "config/config_priv.h"
#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64], share[96];
static struct vmk_fs_device dev;
static uint8_t reqbuf[FS_MAX_IO + 8192], reply[FS_MAX_IO + 4096];
static unsigned runs;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void skeleton(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s && mkdir -p %s/d && echo data > %s/a && ln -s /etc/passwd %s/l && "
		 "ln -s .. %s/up && mkfifo %s/p",
		 share, share, share, share, share, share);
	if (system(cmd) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(top, sizeof(top), "/tmp/vmkit-fuzz-fs.%d", (int)getpid());
	snprintf(share, sizeof(share), "%s/share", top);
	mkdir(top, 0755);
	skeleton();
	snprintf(dev.tag, sizeof(dev.tag), "fuzz");
	dev.dirs[0].path = share;
	dev.ndirs = 1;
	return 0;
}

static size_t serve(struct fs_server *s, const uint8_t *req, size_t len, unsigned split, size_t room)
{
	struct iovec in[2], out[2];
	unsigned nin = 1;
	memcpy(reqbuf, req, len);
	in[0] = (struct iovec){reqbuf, len};
	if (split && split < len) {
		in[0].iov_len = split;
		in[1] = (struct iovec){reqbuf + split, len - split};
		nin = 2;
	}
	size_t half = room / 2;
	out[0] = (struct iovec){reply, half};
	out[1] = (struct iovec){reply + half + 64, room - half};
	memset(reply + half, 0xee, 64);
	size_t n = fs_server_handle(s, in, nin, out, 2);
	for (size_t i = half; i < half + 64; i++)
		if (reply[i] != 0xee)
			abort(); /* wrote between the two buffers */
	if (n > room)
		abort();
	if (n) {
		struct fuse_out_header oh;
		memcpy(&oh, reply, sizeof(oh));
		if (oh.len != n || (oh.error && n != sizeof(oh)))
			abort();
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before = count_fds();
	struct fs_server *s = fs_server_new(&dev, NULL);
	if (!s)
		abort();
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} init = {{.len = sizeof(init), .opcode = FUSE_INIT, .unique = 1}, {.major = 7, .minor = 38}};
	serve(s, (const uint8_t *)&init, sizeof(init), 0, 4096);
	/* Records: room (2 bytes, in 64-byte units), split (2), length (2), bytes. */
	for (int i = 0; i < 32 && size >= 6; i++) {
		size_t room = ((size_t)(data[0] | data[1] << 8) * 64) % (sizeof(reply) - 64);
		unsigned split = data[2] | data[3] << 8;
		size_t len = (size_t)(data[4] | data[5] << 8);
		data += 6;
		size -= 6;
		if (len > size)
			len = size;
		serve(s, data, len, split, room);
		data += len;
		size -= len;
	}
	fs_server_free(s);
	if (count_fds() != fds_before)
		abort(); /* a descriptor outlived the server */
	DIR *d = opendir(top);
	int n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	if (n != 3)
		abort(); /* something beside ., .. and share appeared */
	if (++runs % 256 == 0)
		skeleton(); /* keep the scratch tree small */
	return 0;
}
