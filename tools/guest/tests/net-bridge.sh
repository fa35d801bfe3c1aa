#!/bin/sh
# Bridged: the guest's TAP is a port of bridge br0 (10.10.0.1) in a network
# namespace of the nested host (tests/integration/nested-net.sh). A static
# address, ping the bridge, fetch a file from the httpd bound to it; then
# the host deletes the TAP and the link must go down.
ip link set lo up
ip addr add 10.10.0.2/24 dev eth0
ip link set eth0 up
i=0
until ping -c 1 -W 1 10.10.0.1 >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 60 ] || { echo "BR-PING=failed"; exit 1; }
    sleep 1
done
echo "BR-PING-RECEIVED=$(ping -c 3 -W 2 10.10.0.1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
wget -q -O /tmp/data.bin http://10.10.0.1:8080/data.bin || { echo "BR-WGET=failed"; exit 1; }
echo "BR-MD5=$(md5sum </tmp/data.bin | cut -d' ' -f1)"
# The host sets our TAP administratively down for 3 s, then up again: what
# is sent meanwhile is dropped, and then the link works as before.
echo "BR-FLAP-READY"
# Pings until one goes unanswered (the TAP is down) and a later one is
# answered again (it is up), for at most 90 s.
s=0 t0=$(date +%s)
while [ $(($(date +%s) - t0)) -lt 90 ]; do
    if ping -c 1 -W 1 10.10.0.1 >/dev/null 2>&1; then [ $s = 1 ] && break; else s=1; fi
done
echo "BR-FLAP-SEEN=$s"
echo "BR-AFTER-FLAP-RECEIVED=$(ping -c 3 -W 2 10.10.0.1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
# The host now deletes our TAP interface: link down, and we keep running.
echo "BR-WAIT"
i=0
while [ "$(cat /sys/class/net/eth0/carrier)" = 1 ]; do
    i=$((i + 1)); [ $i -lt 120 ] || { echo "BR-LINK=still-up"; exit 1; }
    sleep 1
done
echo "BR-LINK=down carrier=$(cat /sys/class/net/eth0/carrier) operstate=$(cat /sys/class/net/eth0/operstate)"
