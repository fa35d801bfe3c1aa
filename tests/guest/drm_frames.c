/* Runs inside the test guest for bench/gpu.sh on Linux's virtio_gpu driver: full-screen updates
 * as fast as the guest can make them. Takes a 1920x1080 mode when the connector lists one (else
 * the preferred mode), shows a DRM dumb buffer in it, then for SEC seconds copies a whole new
 * picture into the buffer (two precomputed patterns, alternating, so every pixel changes every
 * frame) and calls DRM_IOCTL_MODE_DIRTYFB with the whole buffer as damage (virtio_gpu: one
 * transfer_to_host_2d and one resource_flush per frame, waited for).
 *
 * usage: drm-frames SEC [WxH]
 * Output: GPU-BENCH-MODE preferred=WxH used=WxH, GPU-BENCH-DRAWING (before the first frame),
 * GPU-BENCH-FRAMES n=N ms=T fps=F (at the end), GPU-BENCH-ERROR ... on failure.
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
#include <time.h>
#include <unistd.h>

static int fd;

static int io(unsigned long req, void *arg)
{
	int r;
	while ((r = ioctl(fd, req, arg)) < 0 && (errno == EINTR || errno == EAGAIN))
		;
	return r;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The first connected connector: its preferred mode and the mode WxH if listed. */
static int find(uint32_t want_w, uint32_t want_h, uint32_t *conn, struct drm_mode_modeinfo *pref,
		struct drm_mode_modeinfo *use, uint32_t *crtc)
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
		if (io(DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0 || c.connection != 1 || !c.count_modes)
			continue;
		struct drm_mode_modeinfo *modes = calloc(c.count_modes, sizeof(*modes));
		c.modes_ptr = (uintptr_t)modes;
		c.count_props = c.count_encoders = 0;
		if (io(DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0) {
			free(modes);
			continue;
		}
		*pref = modes[0];
		for (uint32_t m = 0; m < c.count_modes; m++)
			if (modes[m].type & DRM_MODE_TYPE_PREFERRED) {
				*pref = modes[m];
				break;
			}
		*use = *pref;
		for (uint32_t m = 0; m < c.count_modes; m++)
			if (modes[m].hdisplay == want_w && modes[m].vdisplay == want_h) {
				*use = modes[m];
				break;
			}
		free(modes);
		*conn = conns[i];
		*crtc = crtcs[0];
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	uint32_t want_w = 1920, want_h = 1080, conn, crtc;
	struct drm_mode_modeinfo pref, mode;

	if (argc > 2 && sscanf(argv[2], "%ux%u", &want_w, &want_h) != 2) {
		printf("GPU-BENCH-ERROR bad size %s\n", argv[2]);
		return 1;
	}
	for (int i = 0; i < 50 && (fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC)) < 0; i++)
		usleep(100000);
	if (fd < 0 || io(DRM_IOCTL_SET_MASTER, NULL) < 0) {
		printf("GPU-BENCH-ERROR no /dev/dri/card0 or not master: %s\n", strerror(errno));
		return 1;
	}
	if (find(want_w, want_h, &conn, &pref, &mode, &crtc) < 0) {
		printf("GPU-BENCH-ERROR no connected connector\n");
		return 1;
	}
	uint32_t w = mode.hdisplay, h = mode.vdisplay;
	printf("GPU-BENCH-MODE preferred=%ux%u used=%ux%u\n", pref.hdisplay, pref.vdisplay, w, h);
	struct drm_mode_create_dumb cd = {.width = w, .height = h, .bpp = 32};
	if (io(DRM_IOCTL_MODE_CREATE_DUMB, &cd) < 0)
		goto fail;
	struct drm_mode_fb_cmd fb = {
	    .width = w, .height = h, .pitch = cd.pitch, .bpp = 32, .depth = 24, .handle = cd.handle};
	if (io(DRM_IOCTL_MODE_ADDFB, &fb) < 0)
		goto fail;
	struct drm_mode_map_dumb md = {.handle = cd.handle};
	if (io(DRM_IOCTL_MODE_MAP_DUMB, &md) < 0)
		goto fail;
	uint8_t *p = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)md.offset);
	if (p == MAP_FAILED)
		goto fail;
	/* Two pictures that differ in every pixel (and do not compress to nothing). */
	uint8_t *pic[2];
	for (int k = 0; k < 2; k++) {
		pic[k] = malloc(cd.size);
		if (!pic[k])
			goto fail;
		for (uint32_t y = 0; y < h; y++)
			for (uint32_t x = 0; x < w; x++)
				((uint32_t *)(pic[k] + (uint64_t)y * cd.pitch))[x] =
				    ((x * 7 + k * 131) & 0xff) | ((y * 5 + k * 61) & 0xff) << 8 |
				    (((x ^ y) + k * 97) & 0xff) << 16;
	}
	memcpy(p, pic[0], cd.size);
	struct drm_mode_crtc sc = {.crtc_id = crtc,
				   .fb_id = fb.fb_id,
				   .set_connectors_ptr = (uintptr_t)&conn,
				   .count_connectors = 1,
				   .mode = mode,
				   .mode_valid = 1};
	if (io(DRM_IOCTL_MODE_SETCRTC, &sc) < 0)
		goto fail;
	struct drm_clip_rect clip = {0, 0, (unsigned short)w, (unsigned short)h};
	struct drm_mode_fb_dirty_cmd dirty = {
	    .fb_id = fb.fb_id, .num_clips = 1, .clips_ptr = (uintptr_t)&clip};
	printf("GPU-BENCH-DRAWING\n");
	fflush(stdout);
	unsigned long n = 0;
	double t0 = now_ms(), t;
	do {
		memcpy(p, pic[++n & 1], cd.size);
		if (io(DRM_IOCTL_MODE_DIRTYFB, &dirty) < 0)
			goto fail;
	} while ((t = now_ms()) - t0 < secs * 1e3);
	printf("GPU-BENCH-FRAMES n=%lu ms=%.0f fps=%.2f\n", n, t - t0, n * 1e3 / (t - t0));
	fflush(stdout);
	return 0;
fail:
	printf("GPU-BENCH-ERROR %s\n", strerror(errno));
	return 1;
}
