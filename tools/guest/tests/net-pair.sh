#!/bin/sh
# Two VMs on one socketpair (tests/api/net_pair.c); vmkit.pair=a|b picks the
# side. Static addresses, ping both ways, then each fetches the other's file
# from its httpd and checks it against the md5 the sender published (the
# host compares the printed sums too). Then B waits to be stopped by the
# host, and A keeps pinging B until its link goes down: a datagram socket
# learns that its peer closed only on its next send.
role=
for w in $(cat /proc/cmdline); do
    case $w in vmkit.pair=*) role=${w#vmkit.pair=} ;; esac
done
case $role in
a) me=10.0.9.1 peer=10.0.9.2 other=b ;;
b) me=10.0.9.2 peer=10.0.9.1 other=a ;;
*) echo "PAIR-ROLE=missing"; exit 2 ;;
esac
P=PAIR-$role
ip link set lo up
ip addr add $me/24 dev eth0
ip link set eth0 up
echo "$P-MAC=$(cat /sys/class/net/eth0/address)"
mkdir -p /tmp/www
head -c 1000000 /dev/urandom >/tmp/www/$role.bin
md5sum </tmp/www/$role.bin | cut -d' ' -f1 >/tmp/www/$role.md5
echo "$P-SENT-MD5=$(cat /tmp/www/$role.md5)"
httpd -p 8080 -h /tmp/www || { echo "$P-HTTPD=failed"; exit 1; }

# The other VM may still be booting.
i=0
until ping -c 1 -W 1 $peer >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 150 ] || { echo "$P-PING=failed"; exit 1; }
    sleep 1
done
echo "$P-PING-RECEIVED=$(ping -c 3 -W 2 $peer | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
# A larger MTU (the attachment's, which the device reports) carries whole
# jumbo frames.
mtu=$(cat /sys/class/net/eth0/mtu)
echo "$P-MTU=$mtu"
if [ "$mtu" -gt 1500 ]; then
    ping -c 1 -W 2 -s $((mtu - 28)) $peer >/dev/null && echo "$P-BIG-PING=ok" || echo "$P-BIG-PING=failed"
fi

i=0
until wget -q -O /tmp/got.md5 http://$peer:8080/$other.md5 && wget -q -O /tmp/got.bin http://$peer:8080/$other.bin; do
    i=$((i + 1)); [ $i -lt 30 ] || { echo "$P-WGET=failed"; exit 1; }
    sleep 1
done
got=$(md5sum </tmp/got.bin | cut -d' ' -f1)
echo "$P-GOT-MD5=$got"
[ "$got" = "$(cat /tmp/got.md5)" ] && echo "$P-COPY=ok" || { echo "$P-COPY=corrupt"; exit 1; }
echo "$P-DONE"

if [ $role = b ]; then
    while :; do sleep 3600; done
fi
i=0
while [ "$(cat /sys/class/net/eth0/carrier)" = 1 ]; do
    i=$((i + 1)); [ $i -lt 240 ] || { echo "PAIR-LINK=still-up"; exit 1; }
    ping -c 1 -W 1 $peer >/dev/null 2>&1
    sleep 1
done
echo "PAIR-LINK=down carrier=$(cat /sys/class/net/eth0/carrier) operstate=$(cat /sys/class/net/eth0/operstate)"
# Still alive afterwards.
sleep 1
echo "PAIR-ALIVE=$(cut -d' ' -f1 /proc/uptime)"
