/* Serial ports and their attachments (Apple: VZSerialPortConfiguration,
 * VZFileHandleSerialPortAttachment, VZFileSerialPortAttachment). */
#ifndef VMKIT_SERIAL_H
#define VMKIT_SERIAL_H

#include <stdbool.h>
#include <vmkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmk_serial_attachment vmk_serial_attachment;
typedef struct vmk_serial_port vmk_serial_port;

/* Guest output goes to write_fd, guest input comes from read_fd; either may
 * be -1 (no input / output discarded). The descriptors are duplicated: the
 * caller keeps and closes its own. Fails on a descriptor that is not open. */
vmk_serial_attachment *vmk_serial_fd_attachment_new(int read_fd, int write_fd, vmk_error **err);
/* Guest output is logged to path (created if missing), appended or truncated
 * when the VM starts. Checked by vmk_config_validate(). */
vmk_serial_attachment *vmk_serial_file_attachment_new(const char *path, bool append);
vmk_serial_attachment *vmk_serial_attachment_copy(const vmk_serial_attachment *a);
void vmk_serial_attachment_free(vmk_serial_attachment *a);

typedef enum vmk_serial_port_kind {
	/* A 16550A UART at the next legacy COM port (COM1 0x3f8 IRQ4, COM2 0x2f8 IRQ3,
	 * COM3 0x3e8 IRQ4, COM4 0x2e8 IRQ3): ttyS0.. in a Linux guest. */
	VMK_SERIAL_PORT_16550 = 1,
	/* A port of the VM's virtio console device (hvc0, hvc1... in Linux). */
	VMK_SERIAL_PORT_VIRTIO_CONSOLE = 2,
} vmk_serial_port_kind;

/* The port takes its own copy of the attachment. */
vmk_serial_port *vmk_serial_port_new(vmk_serial_port_kind kind, const vmk_serial_attachment *a);
vmk_serial_port_kind vmk_serial_port_get_kind(const vmk_serial_port *p);
vmk_serial_port *vmk_serial_port_copy(const vmk_serial_port *p);
void vmk_serial_port_free(vmk_serial_port *p);

#ifdef __cplusplus
}
#endif
#endif
