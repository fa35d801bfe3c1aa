/* The views (src/view/) against a fake VM: the public display and input calls
 * they use are implemented here, so VNC, the browser and the window can be
 * tested on any host, without KVM. The fake guest shows a pattern (a
 * gradient with a magenta block), has a cursor, prints every input call it
 * gets ("INPUT key 30 1") and changes its mode on request.
 *
 * usage: vmkit-view-fake [--vnc ADDR] [--web ADDR] [--web-dir DIR] [--gui]
 *          [--password-file F] [--size WxH] [--pointer WxH]
 *          [--resize-after MS WxH] [--dump PATH] [--run MS]
 * Runs until --run's time passes, stdin ends, or the window is closed. */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

#include "view/sdl.h"
#include "view/vnc.h"

struct vmk_vm {
	pthread_mutex_t lock;
	uint32_t width, height;
	uint64_t serial;
	vmk_display_callback cb;
	void *ctx;
	bool pending_damage, pending_cursor;
	uint32_t next_w, next_h;
	long resize_at;
};

static struct vmk_vm fake = {.lock = PTHREAD_MUTEX_INITIALIZER};
static atomic_bool closed;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;
	va_list ap;

	pthread_mutex_lock(&out);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&out);
}

static uint32_t pixel(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	if (x >= w / 4 && x < w / 4 + 200 && y >= h / 4 && y < h / 4 + 100)
		return 0xff00ff;
	return (x * 255 / w) << 16 | (y * 255 / h) << 8 | 0x40;
}

bool vmk_vm_copy_frame(vmk_vm *vm, unsigned device, unsigned scanout, vmk_frame **frame, vmk_error **err)
{
	(void)err;
	if (device || scanout)
		return false;
	vmk_frame *f = calloc(1, sizeof(*f));
	pthread_mutex_lock(&vm->lock);
	f->width = vm->width;
	f->height = vm->height;
	f->serial = vm->serial;
	pthread_mutex_unlock(&vm->lock);
	f->stride = f->width * 4;
	f->active = true;
	f->pixels = malloc((size_t)f->stride * f->height);
	for (uint32_t y = 0; y < f->height; y++)
		for (uint32_t x = 0; x < f->width; x++)
			memcpy(f->pixels + (size_t)y * f->stride + x * 4,
			       &(uint32_t){pixel(x, y, f->width, f->height)}, 4);
	*frame = f;
	return true;
}

bool vmk_vm_copy_frame_rect(vmk_vm *vm, unsigned device, unsigned scanout, const vmk_rect *rect,
			    vmk_frame *into, vmk_error **err)
{
	(void)err;
	if (device || scanout)
		return false;
	pthread_mutex_lock(&vm->lock);
	uint32_t w = vm->width, h = vm->height;
	uint64_t serial = vm->serial;
	pthread_mutex_unlock(&vm->lock);
	if (into->width == w && into->height == h) {
		uint64_t x0 = rect ? rect->x : 0, y0 = rect ? rect->y : 0;
		uint64_t x1 = rect ? x0 + rect->width : w, y1 = rect ? y0 + rect->height : h;
		for (uint64_t y = y0; y < y1 && y < h; y++)
			for (uint64_t x = x0; x < x1 && x < w; x++)
				memcpy(into->pixels + y * into->stride + x * 4,
				       &(uint32_t){pixel((uint32_t)x, (uint32_t)y, w, h)}, 4);
	}
	into->width = w;
	into->height = h;
	into->serial = serial;
	into->active = true;
	return true;
}

bool vmk_vm_copy_cursor(vmk_vm *vm, unsigned device, vmk_cursor **cursor, vmk_error **err)
{
	(void)vm;
	(void)err;
	if (device)
		return false;
	vmk_cursor *c = calloc(1, sizeof(*c));
	c->visible = true;
	c->width = c->height = 64;
	c->hot_x = c->hot_y = 1;
	c->serial = 1;
	c->argb = calloc(64 * 64, 4);
	/* A white triangle with a black edge. */
	for (uint32_t y = 0; y < 24; y++)
		for (uint32_t x = 0; x <= y / 2; x++)
			c->argb[y * 64 + x] = x == y / 2 || x == 0 ? 0xff000000 : 0xffffffff;
	*cursor = c;
	return true;
}

void vmk_vm_set_display_callback(vmk_vm *vm, vmk_display_callback fn, void *ctx)
{
	pthread_mutex_lock(&vm->lock);
	vm->cb = fn;
	vm->ctx = ctx;
	pthread_mutex_unlock(&vm->lock);
}

bool vmk_vm_reconfigure_display(vmk_vm *vm, unsigned device, unsigned scanout, uint32_t w, uint32_t h,
				vmk_error **err)
{
	(void)device;
	(void)scanout;
	(void)err;
	report("INPUT reconfigure %u %u\n", w, h);
	pthread_mutex_lock(&vm->lock);
	vm->next_w = w;
	vm->next_h = h;
	vm->resize_at = now_ms();
	pthread_mutex_unlock(&vm->lock);
	return true;
}

bool vmk_vm_input_key(vmk_vm *vm, uint16_t code, bool pressed, vmk_error **err)
{
	(void)vm;
	(void)err;
	report("INPUT key %u %d\n", code, pressed);
	return true;
}

bool vmk_vm_input_pointer_position(vmk_vm *vm, int32_t x, int32_t y, vmk_error **err)
{
	(void)vm;
	(void)err;
	report("INPUT pos %d %d\n", x, y);
	return true;
}

bool vmk_vm_input_pointer_motion(vmk_vm *vm, int32_t dx, int32_t dy, vmk_error **err)
{
	(void)vm;
	(void)err;
	report("INPUT motion %d %d\n", dx, dy);
	return true;
}

bool vmk_vm_input_button(vmk_vm *vm, vmk_input_button button, bool pressed, vmk_error **err)
{
	(void)vm;
	(void)err;
	report("INPUT button %d %d\n", button, pressed);
	return true;
}

bool vmk_vm_input_wheel(vmk_vm *vm, int32_t clicks, vmk_error **err)
{
	(void)vm;
	(void)err;
	report("INPUT wheel %d\n", clicks);
	return true;
}

/* The fake guest's I/O thread: mode changes and their damage, a redraw of
 * the magenta block now and then, through the display callback. */
static void *guest(void *arg)
{
	struct vmk_vm *vm = arg;
	int tick = 0;

	while (!atomic_load(&closed)) {
		usleep(20000);
		pthread_mutex_lock(&vm->lock);
		if (vm->resize_at && now_ms() >= vm->resize_at) {
			vm->width = vm->next_w;
			vm->height = vm->next_h;
			vm->serial++;
			vm->resize_at = 0;
			vm->pending_damage = true;
		}
		if (++tick % 25 == 0)
			vm->pending_cursor = true;
		vmk_rect full = {0, 0, vm->width, vm->height};
		if (vm->cb && vm->pending_damage)
			vm->cb(vm, 0, 0, &full, vm->ctx);
		if (vm->cb && vm->pending_cursor)
			vm->cb(vm, 0, 0, NULL, vm->ctx);
		if (vm->cb)
			vm->pending_damage = vm->pending_cursor = false;
		pthread_mutex_unlock(&vm->lock);
	}
	return NULL;
}

static void on_close(void *ctx)
{
	(void)ctx;
	report("GUI-CLOSE\n");
	atomic_store(&closed, true);
}

int main(int argc, char **argv)
{
	struct vnc_options vo = {.web_dir = "/usr/share/novnc"};
	struct sdl_options so = {.on_close = on_close};
	bool gui = false;
	long run_ms = -1;
	uint32_t w = 640, h = 480, pw = 0, ph = 0;
	const char *dump = NULL;
	char why[512];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "--vnc"))
			vo.listen = v, i++;
		else if (!strcmp(a, "--web"))
			vo.web = v, i++;
		else if (!strcmp(a, "--web-dir"))
			vo.web_dir = v, i++;
		else if (!strcmp(a, "--password-file"))
			vo.password_file = v, i++;
		else if (!strcmp(a, "--gui"))
			gui = true;
		else if (!strcmp(a, "--size"))
			sscanf(v, "%ux%u", &w, &h), i++;
		else if (!strcmp(a, "--pointer"))
			sscanf(v, "%ux%u", &pw, &ph), i++;
		else if (!strcmp(a, "--resize-after") && i + 2 < argc) {
			fake.resize_at = now_ms() + atol(v);
			sscanf(argv[i + 2], "%ux%u", &fake.next_w, &fake.next_h);
			i += 2;
		} else if (!strcmp(a, "--dump"))
			dump = v, i++;
		else if (!strcmp(a, "--run"))
			run_ms = atol(v), i++;
		else {
			fprintf(stderr, "view-fake: unknown argument %s\n", a);
			return 2;
		}
	}
	fake.width = w;
	fake.height = h;
	fake.serial = 1;
	fake.pending_damage = fake.pending_cursor = true;
	if (dump) {
		vmk_frame *f;
		vmk_vm_copy_frame(&fake, 0, 0, &f, NULL);
		vmk_frame_save_png(f, dump, NULL);
		vmk_frame_free(f);
	}
	struct view_hub hub;
	struct vnc_server *vnc = NULL;
	struct sdl_view *sdl = NULL;
	view_hub_init(&hub, &fake);
	vo.width = so.width = w;
	vo.height = so.height = h;
	vo.pointer_width = so.pointer_width = pw;
	vo.pointer_height = so.pointer_height = ph;
	if ((vo.listen || vo.web) && !(vnc = vnc_start(&fake, &hub, &vo, why, sizeof(why)))) {
		fprintf(stderr, "view-fake: %s\n", why);
		return 1;
	}
	if (gui && !(sdl = sdl_start(&fake, &hub, &so, why, sizeof(why)))) {
		fprintf(stderr, "view-fake: --gui: %s\n", why);
		view_hub_stop(&hub);
		vnc_stop(vnc);
		return 1;
	}
	pthread_t t;
	pthread_create(&t, NULL, guest, &fake);
	report("VIEW-FAKE-READY\n");
	for (long end = run_ms < 0 ? -1 : now_ms() + run_ms; !atomic_load(&closed);) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		char buf[64];
		if (end >= 0 && now_ms() >= end)
			break;
		if (poll(&p, 1, 50) > 0 && read(0, buf, sizeof(buf)) <= 0)
			break;
	}
	atomic_store(&closed, true);
	pthread_join(t, NULL);
	view_hub_stop(&hub);
	vnc_stop(vnc);
	sdl_stop(sdl);
	report("VIEW-FAKE-END\n");
	return 0;
}
