#!/usr/bin/env bash
# Nested tier, virtio-gpu on Linux: Debian's full kernel (linux-image-amd64: the cloud kernel has
# no DRM) with its virtio_gpu driver, booted through the API with a 1024x768 display. The guest's
# fbcon text shows on the host's frame (OCR); a guest program draws a known pattern through a DRM
# dumb buffer in the connector's preferred mode, which must be the configured 1024x768 (EDID);
# the host's frame must match it pixel for pixel; the host reconfigures the display to 1280x720,
# the guest's driver gets the display event and the new preferred mode, draws again, and the
# host's frame matches at the new size.
# One L1 run of its own; VMK_DIRECT=1 runs the same script on this host.
# usage: nested-gpu.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

GD=$("$ROOT/tools/guest/build-guest-full.sh" 2>"$VMK_LOGDIR/nested-gpu-guest.log") ||
    { t_fail nested-gpu-guest-build "log $VMK_LOGDIR/nested-gpu-guest.log"; exit 0; }
work=$(mktemp -d /tmp/vmkit-gpu.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/o/bin"
cflags=$(pkg-config --cflags libdrm 2>/dev/null) || cflags=-I/usr/include/libdrm
# shellcheck disable=SC2086
if ! cc -O2 -Wall -static $cflags -o "$work/o/bin/drm-pattern" "$ROOT/tests/guest/drm_pattern.c"; then
    t_fail nested-gpu-drm-pattern-build "needs libdrm-dev (scripts/deps.sh)"; exit 0
fi
(cd "$work/o" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$work/drm.cpio.gz"
cp "$GD/vmlinuz-full" "$GD/modules-full.cpio.gz" "$work/"
cp "$ROOT/tests/nested/l1-lib.sh" "$work/"

l1=$work/l1.sh
cat >"$l1" <<'L1'
. "$GUEST_DATA/l1-lib.sh"
C="console=ttyS0 panic=-1 quiet"
I=/tmp/initrd-gpu.cpio.gz
cat "$GUEST_INITRD" "$GUEST_DATA/modules-full.cpio.gz" "$GUEST_DATA/drm.cpio.gz" >$I
gpu() {
    vmkit-api-test --kernel "$GUEST_DATA/vmlinuz-full" --initrd $I --memory 512 --timeout 300 --gpu 1024x768 \
        --cmdline "$C vmkit.test=gpu" \
        --on "GPU-FBCON=sleep:1000" --on "GPU-FBCON=screenshot:/tmp/fbcon.png" \
        --on "GPU-DRAWN seed1=sleep:500" --on "GPU-DRAWN seed1=pattern:1" --on "GPU-DRAWN seed1=display:1280x720" \
        --on "GPU-DRAWN seed2=sleep:500" --on "GPU-DRAWN seed2=pattern:2"
    rc=$?
    png_out fbcon /tmp/fbcon.png
    return $rc
}
run gpu gpu
exit 0
L1

log="$VMK_LOGDIR/nested-gpu-l1.log"
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$BUILD/tests:$PATH" GUEST_INITRD=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)/initrd.cpio.gz \
        GUEST_DATA=$work sh "$l1" </dev/null >"$log" 2>&1
    rc=$?
else
    "$ROOT/tests/nested/run-l1.sh" --timeout 600 "$l1" "$BUILD/tests/vmkit-api-test" "$work/vmlinuz-full" \
        "$work/modules-full.cpio.gz" "$work/drm.cpio.gz" "$work/l1-lib.sh" </dev/null >"$log" 2>&1
    rc=$?
fi
[ $rc -eq 0 ] && t_pass nested-gpu-rig || t_fail nested-gpu-rig "run-l1 exit $rc (log $log)"
check gpu "GPU-DRIVER=virtio_gpu" "GPU-PREFERRED 1024x768" "GPU-DRAWN seed1 1024x768" \
    "API pattern seed=1 1024x768 mismatches=0" "API pattern-rect seed=1 1024x768 mismatches=0" "GPU-PREFERRED 1280x720" "GPU-DRAWN seed2 1280x720" \
    "API pattern seed=2 1280x720 mismatches=0" "VMKIT-TEST-EXIT=0" "stop-reason guest-poweroff"
if txt=$(screen_text fbcon "$log"); then
    t_expect nested-gpu-fbcon "$txt" "FBCON TEXT"
else
    t_fail nested-gpu-fbcon "no screenshot in $log"
fi
exit 0
