/* vCPU threads: KVM_RUN and the exits that must be handled synchronously. */
#ifndef VMK_VCPU_H
#define VMK_VCPU_H

#include "vm/machine.h"
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct bus;

/* The run control every vCPU of a machine obeys; the machine owns it. */
struct vcpu_control {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool stop; /* checked at every exit */
	bool pause;	  /* parks the threads */
	unsigned parked;
	unsigned running_threads;
};

/* What a vCPU needs of the machine it runs in, given at creation: the
 * buses its exits go to, the run control, and where it reports the exit
 * that ends the machine (any thread), so the vCPU never calls the machine
 * by name. The machine owns all of it and outlives its vCPU threads. */
struct vcpu_host {
	struct bus *pio, *mmio;
	struct vcpu_control *ctl;
	void (*end)(void *ctx, enum machine_exit why, const char *detail);
	void *ctx;
};

struct vcpu {
	const struct vcpu_host *host;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
};

/* Creates the KVM vCPU and maps its kvm_run page. Returns 0 or -errno. */
int vcpu_create(struct vcpu *v, const struct vcpu_host *host, int vm_fd, size_t run_size, unsigned id);
int vcpu_start_thread(struct vcpu *v);
/* Makes the vCPU leave KVM_RUN soon (or not enter it). Any thread. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
