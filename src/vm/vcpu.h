/* vCPU threads: KVM_RUN and the exits that must be handled synchronously. */
#ifndef VMK_VCPU_H
#define VMK_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct machine;

struct vcpu {
	struct machine *m;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
};

/* Creates the KVM vCPU and maps its kvm_run page. Returns 0 or -errno. */
int vcpu_create(struct vcpu *v, struct machine *m, int vm_fd, size_t run_size, unsigned id);
int vcpu_start_thread(struct vcpu *v);
/* Makes the vCPU leave KVM_RUN soon (or not enter it). Any thread. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
