#!/bin/sh
# GPU benchmark inside the test guest (bench/gpu.sh puts it in as /tests/gpu-bench.sh, with
# /bin/drm-frames from tests/guest/drm_frames.c). Kernel command line: vmkit.gpu_t=SEC (how
# long the guest draws), vmkit.gpu_size=WxH (the mode it takes when listed).
t=30 size=1920x1080
for w in $(cat /proc/cmdline); do
    case $w in
    vmkit.gpu_t=*) t=${w#*=} ;;
    vmkit.gpu_size=*) size=${w#*=} ;;
    esac
done
[ -e /dev/dri/card0 ] || { echo "GPU-BENCH-ERROR no /dev/dri/card0"; exit 1; }
for m in /sys/class/drm/card0-*/modes; do echo "GPU-BENCH-MODES $(head -n 3 "$m" | tr '\n' ' ')"; done
/bin/drm-frames "$t" "$size"
rc=$?
echo "GPU-BENCH-DONE rc=$rc"
exit $rc
