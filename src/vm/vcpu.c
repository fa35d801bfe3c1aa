/* vCPU threads. Each runs KVM_RUN and handles only port-I/O and MMIO exits
 * itself; everything else ends the machine through the host's end(). A
 * real-time signal plus kvm_run.immediate_exit gets a vCPU out of KVM_RUN
 * without races: the flag is set before the signal, so a kick that lands
 * just before KVM_RUN still makes it return at once. */
#include "vm/vcpu.h"
#include "platform/bus.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The one signal libvmkit uses; documented in docs/design.md. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 6)

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static void vcpu_install_kick(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

static void vcpu_end(struct vcpu *v, enum machine_exit why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vcpu_end(struct vcpu *v, enum machine_exit why, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	v->host->end(v->host->ctx, why, detail);
}

int vcpu_create(struct vcpu *v, const struct vcpu_host *host, int vm_fd, size_t run_size, unsigned id)
{
	memset(v, 0, sizeof(*v));
	v->host = host;
	v->id = id;
	v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int e = errno;
		close(v->fd);
		v->fd = -1;
		v->run = NULL;
		return -e;
	}
	v->run_size = run_size;
	return 0;
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	unsigned size = r->io.size;
	/* data_offset and count come from the kernel, but keep string I/O
	 * inside the kvm_run mapping whatever they say. */
	if (r->io.data_offset >= v->run_size ||
	    (uint64_t)size * r->io.count > v->run_size - r->io.data_offset)
		return;
	for (uint32_t i = 0; i < r->io.count; i++, data += size)
		bus_access(v->host->pio, r->io.port, data, size, r->io.direction == KVM_EXIT_IO_OUT);
}

static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		bus_access(v->host->mmio, r->mmio.phys_addr, r->mmio.data, r->mmio.len > 8 ? 8 : r->mmio.len,
			   r->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_end(v, MEXIT_TRIPLE_FAULT, "vCPU %u shut down (triple fault)", v->id);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (r->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vcpu_end(v, MEXIT_RESET, "vCPU %u requested a reset", v->id);
		else if (r->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vcpu_end(v, MEXIT_POWEROFF, "vCPU %u requested power off", v->id);
		else
			vcpu_end(v, MEXIT_INTERNAL_ERROR, "vCPU %u: system event %u", v->id,
				 r->system_event.type);
		return false;
	case KVM_EXIT_INTERNAL_ERROR: {
		struct kvm_regs regs;
		unsigned long long rip = 0;
		if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
			rip = regs.rip;
		vcpu_end(v, MEXIT_INTERNAL_ERROR,
			 "KVM internal error on vCPU %u: suberror %u (%s) at rip 0x%llx", v->id,
			 r->internal.suberror,
			 r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? "emulation failure" : "other",
			 rip);
		return false;
	}
	case KVM_EXIT_FAIL_ENTRY:
		vcpu_end(v, MEXIT_INTERNAL_ERROR, "vCPU %u: VM entry failed, reason 0x%llx", v->id,
			 (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vcpu_end(v, MEXIT_VMM_ERROR, "vCPU %u: unhandled KVM exit %u", v->id, r->exit_reason);
		return false;
	}
}

/* Parks the calling vCPU while a pause is requested. Returns false when stopping. */
static bool vcpu_park(struct vcpu_control *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->pause && !atomic_load(&c->stop)) {
		c->parked++;
		pthread_cond_broadcast(&c->cond);
		while (c->pause && !atomic_load(&c->stop))
			pthread_cond_wait(&c->cond, &c->lock);
		c->parked--;
	}
	pthread_mutex_unlock(&c->lock);
	return !atomic_load(&c->stop);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vcpu_control *c = v->host->ctl;
	sigset_t set;
	char name[16];

	snprintf(name, sizeof(name), "vmk-vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	/* Only the kick may interrupt this thread; SIGPIPE from a closed serial
	 * output must become EPIPE, not kill the application. */
	sigfillset(&set);
	sigdelset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &set, NULL);

	while (!atomic_load(&c->stop)) {
		if (!vcpu_park(c))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			vcpu_end(v, MEXIT_VMM_ERROR, "vCPU %u: KVM_RUN failed: %s", v->id, strerror(errno));
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	pthread_mutex_lock(&c->lock);
	c->running_threads--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int vcpu_start_thread(struct vcpu *v)
{
	pthread_once(&kick_once, vcpu_install_kick);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	/* The vCPU thread needs little stack: device handlers are shallow. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int r = pthread_create(&v->thread, &attr, vcpu_thread, v);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -r;
	v->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->run)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started && !pthread_equal(pthread_self(), v->thread))
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
