/* The machine's insides, shared by machine.c and devices.c only (a vCPU
 * sees only its struct vcpu_host). */
#ifndef VMK_MACHINE_PRIV_H
#define VMK_MACHINE_PRIV_H

#include "core/memory.h"
#include "platform/bus.h"
#include "platform/devices.h"
#include "platform/fw_cfg.h"
#include "platform/irq.h"
#include "platform/pci.h"
#include "platform/pflash.h"
#include "platform/uart.h"
#include "virtio/devices.h"
#include "virtio/pci.h"
#include "vm/machine.h"
#include "vm/vcpu.h"
#include <stdatomic.h>

struct serial_link {
	struct machine *m;
	struct uart *uart;
	int in_fd;  /* not owned; -1 when none */
	int out_fd; /* not owned */
	int log_fd; /* owned (file attachments), or -1 */
	bool watching;
};

struct machine {
	const struct vmk_config *cfg;
	struct evloop *loop;
	struct machine_events ev;
	void *ev_ctx;

	int kvm_fd, vm_fd;
	struct gmem mem;
	struct bus pio, mmio;
	struct platform_hooks hooks;
	struct rtc *rtc;
	struct i8042 *kbd;
	struct pm *pm;
	struct serial_link serial[VMK_MAX_16550_PORTS];
	unsigned nserial;

	/* UEFI boot only: firmware flash, fw_cfg, the LPC bridge. */
	struct pflash *flash_code, *flash_vars;
	struct fw_cfg *fw_cfg;
	struct pci_dev *lpc;

	/* PCI and virtio devices (devices.c); device work runs on io. */
	struct irq_router irq;
	bool irq_ready;
	struct evloop *io;
	struct pci_host *pci;
	struct virtio_blk *blk[VMK_MAX_STORAGE_DEVICES];
	unsigned nblk;
	struct virtio_net *net[VMK_MAX_NETWORK_DEVICES];
	unsigned nnet;
	struct virtio_rng *rng;
	struct virtio_console *console;
	struct virtio_balloon *balloon;
	struct virtio_vsock *vsock;
	struct virtio_fs *fs[VMK_MAX_FS_DEVICES];
	unsigned nfs;
	struct virtio_input *input[VMK_MAX_INPUT_DEVICES];
	unsigned ninput;
	struct virtio_gpu *gpu[VMK_MAX_GRAPHICS_DEVICES];
	unsigned ngpu;
	/* Keys for the PS/2 keyboard, typed at a human pace by a timer on the
	 * I/O thread (devices.c): firmware drivers keep only a few scan codes. */
	pthread_mutex_t ps2_lock;
	struct ps2_key {
		uint16_t code;
		bool down;
	} ps2_q[512];
	unsigned ps2_head, ps2_n;
	int ps2_tfd;
	bool ps2_armed;
	struct virtio_pci *transports[32];
	unsigned ntransports;

	unsigned ncpus;
	struct vcpu *vcpus;

	/* Run control (its lock also guards the exit latch below). */
	struct vcpu_control ctl;
	struct vcpu_host vcpu_host;
	bool threads_started;

	/* The first exit wins; written once under lock. */
	enum machine_exit exit_reason;
	char exit_detail[256];
};

/* Builds the PCI host and the configured virtio devices (devices.c). */
bool machine_setup_devices(struct machine *m, const int (*serial_fds)[2], vmk_error **err);
/* After the vCPUs stopped: stops the I/O thread, frees devices. */
void machine_free_devices(struct machine *m);

/* Records why the machine ends (first caller wins), stops every vCPU and
 * tells the owner. Any thread. */
void machine_latch_exit(struct machine *m, enum machine_exit why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
