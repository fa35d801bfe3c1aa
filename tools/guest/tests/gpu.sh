#!/bin/sh
# virtio-gpu on Linux's virtio_gpu driver (tests/integration/nested-gpu.sh, full kernel): the
# driver's fbdev emulation carries fbcon (text written to tty1 must show on the host's frame),
# then /bin/drm-pattern (tests/guest/drm_pattern.c) draws through DRM dumb buffers in the
# preferred mode, before and after the host reconfigures the display.
[ -e /dev/dri/card0 ] || { echo "GPU-ERROR no /dev/dri/card0"; exit 1; }
for d in /sys/class/drm/card0/device/virtio*/driver; do echo "GPU-DRIVER=$(basename "$(readlink "$d")")"; done
for m in /sys/class/drm/card0-*/modes; do echo "GPU-MODES $(head -n 3 "$m" | tr '\n' ' ')"; done
printf '\033[2J\033[HVMKIT FBCON TEXT\n' >/dev/tty1
echo "GPU-FBCON"
sleep 3
/bin/drm-pattern
