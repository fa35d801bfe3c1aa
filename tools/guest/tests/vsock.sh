#!/bin/sh
# virtio-vsock with socat and qemu-ga (added to the initramfs by tests/integration/nested-vsock.sh).
# The host (L1) forwards: port 1025 -> its "ready" socket (podman's ready signal), 1026 ->
# a sink, 1027 -> a sink that waits before reading (the credit must hold the guest back),
# 1031 -> a socket that answers the host's time in ms; its socket in.sock -> guest port 2000;
# its hybrid socket (Firecracker's CONNECT protocol) -> guest port 2001, and guest connects
# to host port 1030 go to hy.sock_1030. Sizes come from the command line. Last, with the
# guest's clock set an hour back, the host pauses and resumes the VM: its --timesync must
# set the clock through qemu-ga (listening on vsock port 5555) to within a second of the host's.
mb=8
for w in $(cat /proc/cmdline); do
    case $w in vmkit.vsock_mb=*) mb=${w#vmkit.vsock_mb=} ;; esac
done
slow_mb=$((mb < 8 ? mb : 8))
[ -e /dev/vsock ] || { echo "VSOCK-DEV=missing"; exit 1; }
qemu-ga -m vsock-listen -p 3:5555 -f /tmp/qga.pid -t /tmp -l /tmp/qga.log &
echo Ready | socat - VSOCK-CONNECT:2:1025 || { echo "VSOCK-READY=failed"; exit 1; }
# Guest to host, streamed (256 MiB does not fit beside the guest's 256 MiB of RAM) and
# summed on the way; then a host that reads only after a pause.
mkfifo /tmp/f
md5sum </tmp/f >/tmp/g2h.md5 &
mp=$!
t0=$(date +%s)
dd if=/dev/urandom bs=1M count="$mb" 2>/dev/null | tee /tmp/f | socat -u - VSOCK-CONNECT:2:1026 ||
    { echo "VSOCK-G2H=failed"; exit 1; }
wait $mp
echo "G2H-SECONDS=$(($(date +%s) - t0)) MB=$mb"
echo "G2H-MD5=$(cut -d' ' -f1 /tmp/g2h.md5)"
dd if=/dev/urandom of=/tmp/slow bs=1M count="$slow_mb" 2>/dev/null
socat -u OPEN:/tmp/slow VSOCK-CONNECT:2:1027 || { echo "VSOCK-SLOW=failed"; exit 1; }
echo "SLOW-MD5=$(md5sum </tmp/slow | cut -d" " -f1)"
rm -f /tmp/slow
echo "VSOCK-SENT"
# Host to guest: the host connects once we listen; the hybrid client too.
# (Only these are waited for: qemu-ga runs on.)
socat -u VSOCK-LISTEN:2000 - | md5sum >/tmp/h2g.md5 &
hp=$!
echo hybrid-hello | socat -u - VSOCK-LISTEN:2001 &
yp=$!
sleep 1
echo "VSOCK-LISTENING"
wait $hp
wait $yp
echo "H2G-MD5=$(cut -d' ' -f1 /tmp/h2g.md5)"
# Nobody listens on host port 4444: the connection is reset, at once.
if socat - VSOCK-CONNECT:2:4444 </dev/null 2>/tmp/rst.err; then
    echo "VSOCK-RST=connected"
else
    echo "VSOCK-RST=$(grep -o 'Connection reset by peer\|Connection refused' /tmp/rst.err | head -1)"
fi
# Firecracker's guest-initiated side: host port 1030 is the hybrid socket's PATH_1030.
echo fc-hello | socat - VSOCK-CONNECT:2:1030 || echo "VSOCK-FC=failed"

# Time sync. The guest's and the host's clocks in ms (busybox date has no %N).
ms() { adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf "%.0f\n", s*1000+int(u/1000)}'; }
before=$(date +%s)
date -s "@$((before - 3600))" >/dev/null
echo "TIMESYNC-READY"
i=0
while [ $(($(date +%s) - before)) -lt -1800 ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || { echo "TIMESYNC=never-set"; cat /tmp/qga.log; exit 1; }
    usleep 200000
done
g1=$(ms)
h=$(socat -u VSOCK-CONNECT:2:1031 -)
g2=$(ms)
d=$(((g1 + g2) / 2 - h))
echo "TIMESYNC-DIFF-MS=$d (round trip $((g2 - g1)) ms)"
[ $d -lt 1000 ] && [ $d -gt -1000 ] && echo "TIMESYNC=ok" || echo "TIMESYNC=off"
