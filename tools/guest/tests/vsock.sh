#!/bin/sh
# virtio-vsock with socat (added to the initramfs by tests/integration/nested-vsock.sh).
# The host (L1) forwards: port 1025 -> its "ready" socket (podman's ready signal), 1026 ->
# a sink, 1027 -> a sink that waits before reading (the credit must hold the guest back),
# and its socket in.sock -> guest port 2000. Sizes come from the command line.
mb=8
for w in $(cat /proc/cmdline); do
    case $w in vmkit.vsock_mb=*) mb=${w#vmkit.vsock_mb=} ;; esac
done
[ -e /dev/vsock ] || { echo "VSOCK-DEV=missing"; exit 1; }
echo Ready | socat - VSOCK-CONNECT:2:1025 || { echo "VSOCK-READY=failed"; exit 1; }
# Guest to host, then a host that reads only after a pause.
dd if=/dev/urandom of=/tmp/g2h bs=1M count="$mb" 2>/dev/null
echo "G2H-MD5=$(md5sum </tmp/g2h | cut -d' ' -f1)"
socat -u OPEN:/tmp/g2h VSOCK-CONNECT:2:1026 || { echo "VSOCK-G2H=failed"; exit 1; }
socat -u OPEN:/tmp/g2h VSOCK-CONNECT:2:1027 || { echo "VSOCK-SLOW=failed"; exit 1; }
echo "SLOW-MD5=$(md5sum </tmp/g2h | cut -d" " -f1)"
echo "VSOCK-SENT"
# Host to guest: the host connects once we listen.
socat -u VSOCK-LISTEN:2000 CREATE:/tmp/h2g &
sp=$!
sleep 1
echo "VSOCK-LISTENING"
wait $sp || { echo "VSOCK-H2G=failed"; exit 1; }
echo "H2G-MD5=$(md5sum </tmp/h2g | cut -d' ' -f1)"
# Nobody listens on host port 4444: the connection is reset, at once.
if socat - VSOCK-CONNECT:2:4444 </dev/null 2>/tmp/rst.err; then
    echo "VSOCK-RST=connected"
else
    echo "VSOCK-RST=$(grep -o 'Connection reset by peer\|Connection refused' /tmp/rst.err | head -1)"
fi
rm -f /tmp/g2h /tmp/h2g
