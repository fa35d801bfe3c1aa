#!/bin/sh
# TAP on bridge br0 (10.10.0.1 in the nested host, tests/integration/
# nested-vhost.sh), with or without vhost-net: a static address, ping, a
# file down from the host's httpd and one up (the host fetches it from ours),
# both checked by md5. Ends when the host publishes done.txt.
ip link set lo up
ip addr add 10.10.0.2/24 dev eth0
ip link set eth0 up
mkdir -p /tmp/www
head -c 3000000 /dev/urandom >/tmp/www/up.bin
echo "VH-UP-MD5=$(md5sum </tmp/www/up.bin | cut -d' ' -f1)"
httpd -p 8080 -h /tmp/www || { echo "VH-HTTPD=failed"; exit 1; }
i=0
until ping -c 1 -W 1 10.10.0.1 >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 60 ] || { echo "VH-PING=failed"; exit 1; }
done
echo "VH-PING-RECEIVED=$(ping -c 3 -W 2 10.10.0.1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
wget -q -O /tmp/down.bin http://10.10.0.1:8080/down.bin || { echo "VH-WGET=failed"; exit 1; }
echo "VH-DOWN-MD5=$(md5sum </tmp/down.bin | cut -d' ' -f1)"
# Driver re-init: unbind resets the device (vhost stops), bind negotiates
# and starts it again; the upload below runs on the new set-up.
d=$(basename "$(readlink /sys/class/net/eth0/device)")
echo "$d" >/sys/bus/virtio/drivers/virtio_net/unbind && echo "$d" >/sys/bus/virtio/drivers/virtio_net/bind ||
    { echo "VH-REBIND=failed"; exit 1; }
ip addr add 10.10.0.2/24 dev eth0
ip link set eth0 up
i=0
until ping -c 1 -W 1 10.10.0.1 >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 60 ] || { echo "VH-REBIND-PING=failed"; exit 1; }
done
echo "VH-REBIND-PING-RECEIVED=$(ping -c 3 -W 2 10.10.0.1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
echo "VH-READY"
i=0
until wget -q -O /dev/null http://10.10.0.1:8080/done.txt 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 120 ] || { echo "VH-DONE=timeout"; exit 1; }
    sleep 1
done
echo "VH-DONE"
