/* Runs inside the test guest (tests/integration/nested-gpu.sh) on Linux's virtio_gpu driver:
 * draws a known pattern through a DRM dumb buffer in the connector's preferred mode (the EDID's,
 * which must be the scanout's configured size), tells the host, then waits for the host to
 * reconfigure the display (a hotplug event brings a new preferred mode) and draws again in it.
 * The host compares what its API copies out with the same pattern, pixel for pixel.
 * Output lines: GPU-PREFERRED WxH, GPU-DRAWN seedN WxH, GPU-ERROR ...
 * Static, no libdrm: the kernel's uapi structures only. */
#include <drm.h>
#include <drm_mode.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The pattern, also in tests/api/api_test.c (action pattern:SEED): XRGB8888. */
static uint32_t pattern(uint32_t x, uint32_t y, uint32_t seed)
{
	return ((x * 7 + seed * 31) & 0xff) | ((y * 5 + seed) & 0xff) << 8 |
	       (((x ^ y) + seed * 17) & 0xff) << 16;
}

static int fd;

static int io(unsigned long req, void *arg)
{
	int r;
	while ((r = ioctl(fd, req, arg)) < 0 && (errno == EINTR || errno == EAGAIN))
		;
	return r;
}

/* The first connected connector, its preferred (first) mode and an encoder's CRTC. */
static int find(uint32_t *conn, struct drm_mode_modeinfo *mode, uint32_t *crtc)
{
	struct drm_mode_card_res res = {0};
	uint32_t conns[8], crtcs[8], encs[8];
	if (io(DRM_IOCTL_MODE_GETRESOURCES, &res) < 0)
		return -1;
	if (res.count_connectors > 8 || res.count_crtcs > 8 || res.count_encoders > 8)
		return -1;
	res.connector_id_ptr = (uintptr_t)conns;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.encoder_id_ptr = (uintptr_t)encs;
	res.count_fbs = 0;
	if (io(DRM_IOCTL_MODE_GETRESOURCES, &res) < 0)
		return -1;
	for (uint32_t i = 0; i < res.count_connectors; i++) {
		struct drm_mode_get_connector c = {.connector_id = conns[i]};
		if (io(DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0)
			continue;
		if (c.connection != 1 || !c.count_modes)
			continue;
		struct drm_mode_modeinfo *modes = calloc(c.count_modes, sizeof(*modes));
		c.modes_ptr = (uintptr_t)modes;
		c.count_props = c.count_encoders = 0;
		if (io(DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0) {
			free(modes);
			continue;
		}
		*mode = modes[0];
		for (uint32_t m = 0; m < c.count_modes; m++)
			if (modes[m].type & DRM_MODE_TYPE_PREFERRED) {
				*mode = modes[m];
				break;
			}
		free(modes);
		*conn = conns[i];
		*crtc = crtcs[0];
		return 0;
	}
	return -1;
}

static int draw(uint32_t seed, uint32_t *w, uint32_t *h)
{
	uint32_t conn, crtc;
	struct drm_mode_modeinfo mode;
	if (find(&conn, &mode, &crtc) < 0)
		return -1;
	*w = mode.hdisplay;
	*h = mode.vdisplay;
	struct drm_mode_create_dumb cd = {.width = *w, .height = *h, .bpp = 32};
	if (io(DRM_IOCTL_MODE_CREATE_DUMB, &cd) < 0)
		return -1;
	struct drm_mode_fb_cmd fb = {
	    .width = *w, .height = *h, .pitch = cd.pitch, .bpp = 32, .depth = 24, .handle = cd.handle};
	if (io(DRM_IOCTL_MODE_ADDFB, &fb) < 0)
		return -1;
	struct drm_mode_map_dumb md = {.handle = cd.handle};
	if (io(DRM_IOCTL_MODE_MAP_DUMB, &md) < 0)
		return -1;
	uint8_t *p = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)md.offset);
	if (p == MAP_FAILED)
		return -1;
	for (uint32_t y = 0; y < *h; y++)
		for (uint32_t x = 0; x < *w; x++)
			((uint32_t *)(p + (uint64_t)y * cd.pitch))[x] = pattern(x, y, seed);
	struct drm_mode_crtc sc = {.crtc_id = crtc,
				   .fb_id = fb.fb_id,
				   .set_connectors_ptr = (uintptr_t)&conn,
				   .count_connectors = 1,
				   .mode = mode,
				   .mode_valid = 1};
	if (io(DRM_IOCTL_MODE_SETCRTC, &sc) < 0)
		return -1;
	/* The whole buffer once more as damage: virtio_gpu transfers and flushes it. */
	struct drm_clip_rect clip = {0, 0, (unsigned short)*w, (unsigned short)*h};
	struct drm_mode_fb_dirty_cmd dirty = {
	    .fb_id = fb.fb_id, .num_clips = 1, .clips_ptr = (uintptr_t)&clip};
	io(DRM_IOCTL_MODE_DIRTYFB, &dirty);
	return 0;
}

int main(void)
{
	uint32_t w, h, conn, crtc;
	struct drm_mode_modeinfo mode;

	for (int i = 0; i < 50 && (fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC)) < 0; i++)
		usleep(100000);
	if (fd < 0 || io(DRM_IOCTL_SET_MASTER, NULL) < 0) {
		printf("GPU-ERROR no /dev/dri/card0 or not master: %s\n", strerror(errno));
		return 1;
	}
	if (find(&conn, &mode, &crtc) < 0) {
		printf("GPU-ERROR no connected connector\n");
		return 1;
	}
	printf("GPU-PREFERRED %ux%u\n", mode.hdisplay, mode.vdisplay);
	if (draw(1, &w, &h) < 0) {
		printf("GPU-ERROR drawing: %s\n", strerror(errno));
		return 1;
	}
	printf("GPU-DRAWN seed1 %ux%u\n", w, h);
	fflush(stdout);
	/* The host reconfigures the display: wait for the preferred mode to change. */
	for (int i = 0; i < 300; i++) {
		usleep(100000);
		if (find(&conn, &mode, &crtc) == 0 && (mode.hdisplay != w || mode.vdisplay != h))
			break;
	}
	printf("GPU-PREFERRED %ux%u\n", mode.hdisplay, mode.vdisplay);
	if (draw(2, &w, &h) < 0) {
		printf("GPU-ERROR drawing again: %s\n", strerror(errno));
		return 1;
	}
	printf("GPU-DRAWN seed2 %ux%u\n", w, h);
	fflush(stdout);
	sleep(3); /* the host looks, then the guest powers off */
	return 0;
}
