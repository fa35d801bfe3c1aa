/* Serial ports and their attachments (Apple: VZSerialPortConfiguration,
 * VZFileHandleSerialPortAttachment, VZFileSerialPortAttachment). An fd
 * attachment owns duplicates, so the caller may close its descriptors at
 * once and every copy can be freed independently. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_priv.h"
#include "util/error_priv.h"

/* Stores a close-on-exec duplicate of fd (or -1) in *slot. */
static bool dup_fd(int fd, int *slot, const char *field, vmk_error **err)
{
	*slot = -1;
	if (fd < 0)
		return true;
	*slot = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (*slot < 0)
		return vmk_set_errno(err, VMK_ERR_SERIAL_ATTACHMENT, field, errno, "%s: file descriptor %d",
				     field, fd);
	return true;
}

static struct vmk_serial_attachment *fd_attachment(int read_fd, int write_fd, vmk_error **err)
{
	struct vmk_serial_attachment *a = calloc(1, sizeof(*a));

	if (!a) {
		vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, NULL, "out of memory");
		return NULL;
	}
	a->kind = SERIAL_ATTACH_FD;
	a->write_fd = -1;
	if (!dup_fd(read_fd, &a->read_fd, "read_fd", err) ||
	    !dup_fd(write_fd, &a->write_fd, "write_fd", err)) {
		vmk_serial_attachment_free(a);
		return NULL;
	}
	return a;
}

vmk_serial_attachment *vmk_serial_fd_attachment_new(int read_fd, int write_fd, vmk_error **err)
{
	return fd_attachment(read_fd, write_fd, err);
}

vmk_serial_attachment *vmk_serial_file_attachment_new(const char *path, bool append)
{
	struct vmk_serial_attachment *a;

	if (!path)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->kind = SERIAL_ATTACH_FILE;
	a->read_fd = -1;
	a->write_fd = -1;
	a->append = append;
	a->path = strdup(path);
	if (!a->path) {
		free(a);
		return NULL;
	}
	return a;
}

vmk_serial_attachment *vmk_serial_attachment_copy(const vmk_serial_attachment *a)
{
	if (!a)
		return NULL;
	if (a->kind == SERIAL_ATTACH_FD)
		return fd_attachment(a->read_fd, a->write_fd, NULL);
	return vmk_serial_file_attachment_new(a->path, a->append);
}

void vmk_serial_attachment_free(vmk_serial_attachment *a)
{
	if (!a)
		return;
	if (a->read_fd >= 0)
		close(a->read_fd);
	if (a->write_fd >= 0)
		close(a->write_fd);
	free(a->path);
	free(a);
}

vmk_serial_port *vmk_serial_port_new(vmk_serial_port_kind kind, const vmk_serial_attachment *a)
{
	struct vmk_serial_port *p;

	if (kind != VMK_SERIAL_PORT_16550 && kind != VMK_SERIAL_PORT_VIRTIO_CONSOLE)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->kind = kind;
	if (a) {
		p->attachment = vmk_serial_attachment_copy(a);
		if (!p->attachment) {
			free(p);
			return NULL;
		}
	}
	return p;
}

vmk_serial_port_kind vmk_serial_port_get_kind(const vmk_serial_port *p)
{
	return p ? p->kind : 0;
}

vmk_serial_port *vmk_serial_port_copy(const vmk_serial_port *p)
{
	if (!p)
		return NULL;
	return vmk_serial_port_new(p->kind, p->attachment);
}

void vmk_serial_port_free(vmk_serial_port *p)
{
	if (!p)
		return;
	vmk_serial_attachment_free(p->attachment);
	free(p);
}
