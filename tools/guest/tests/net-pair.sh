#!/bin/sh
# Two VMs on one socketpair (tests/api/net_pair.c); vmkit.pair=a|b picks the
# side. Static addresses, ping both ways, then each fetches the other's file
# from its httpd and checks it against the md5 the sender published (the
# host compares the printed sums too). Then the backpressure burst: B's
# receiver starts (udpburst, UDPBURST-READY), A says BURST-WAIT-GO and
# waits for "go" on its console; the host pauses B, sends "go", and resumes
# B once A's sender is stuck (UDPBURST-WAITING) or done. Every one of
# BURST datagrams must reach B: with B paused, A's vmkit finds the socket
# full and must hold the frames in A's transmit queue, not drop them.
# Static ARP entries, a huge receive buffer in B and a sender that retries
# ENOBUFS leave vmkit as the only place a datagram could be lost. Then B
# waits to be stopped by the host, and A keeps pinging B until its link
# goes down: a datagram socket learns that its peer closed only on its next
# send. Then the host plugs A into a new socketpair whose other end is a
# third VM, C (vmkit_vm_change_network_attachment): A sees carrier again,
# pings C and fetches C's file; the host pulls A's cable (NULL) and A sees
# carrier 0; last, "bridge" on A's console means the host plugged A into a
# bridge (10.0.9.254, an httpd with data.bin) and A pings it and fetches the
# file (then again on a second new TAP, then the cable is pulled), "end"
# that it did not.
role=
for w in $(cat /proc/cmdline); do
    case $w in vmkit.pair=*) role=${w#vmkit.pair=} ;; esac
done
case $role in
a) me=10.0.9.1 peer=10.0.9.2 other=b peer_mac=52:54:00:00:00:0b ;;
b) me=10.0.9.2 peer=10.0.9.1 other=a peer_mac=52:54:00:00:00:0a ;;
c) me=10.0.9.3 peer=10.0.9.1 other=a peer_mac=52:54:00:00:00:0a ;;
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
if [ $role = c ]; then
    echo "$P-READY"
    while :; do sleep 3600; done
fi

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

# No neighbour probe may go unanswered while B is paused.
arp -s $peer $peer_mac
BURST=2000
if [ $role = b ]; then
    udpburst recv 9000 $BURST 30 || echo "$P-BURST=lost"
else
    echo "$P-BURST-WAIT-GO"
    read -t 300 go || { echo "$P-BURST=no-go"; exit 1; }
    udpburst send $peer 9000 $BURST 64 || { echo "$P-BURST=send-failed"; exit 1; }
fi
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

# wait_carrier VALUE: up to 120 s.
wait_carrier() {
    i=0
    while [ "$(cat /sys/class/net/eth0/carrier)" != $1 ]; do
        i=$((i + 1)); [ $i -lt 120 ] || return 1
        sleep 1
    done
}
# fetch NAME IP FILE: FILE and FILE's md5 (published or given) must agree.
fetch() {
    i=0
    until ping -c 1 -W 1 $2 >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 120 ] || { echo "PAIR-a-$1-PING=failed"; return 1; }
        sleep 1
    done
    echo "PAIR-a-$1-PING-RECEIVED=$(ping -c 3 -W 2 $2 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
    i=0
    until wget -q -O /tmp/s.bin http://$2:8080/$3.bin && wget -q -O /tmp/s.md5 http://$2:8080/$3.md5; do
        i=$((i + 1)); [ $i -lt 30 ] || { echo "PAIR-a-$1-WGET=failed"; return 1; }
        sleep 1
    done
    got=$(md5sum </tmp/s.bin | cut -d' ' -f1)
    echo "PAIR-a-$1-GOT-MD5=$got"
    [ "$got" = "$(cat /tmp/s.md5)" ] && echo "PAIR-a-$1-COPY=ok" || echo "PAIR-a-$1-COPY=corrupt"
}
echo "PAIR-a-SWAP-WAIT"
wait_carrier 1 || { echo "PAIR-a-SWAP=no-carrier"; exit 1; }
echo "PAIR-a-SWAP-CARRIER=1"
fetch SWAP 10.0.9.3 c || exit 1
echo "PAIR-a-SWAP-DONE"
wait_carrier 0 || { echo "PAIR-a-UNPLUG=still-up"; exit 1; }
echo "PAIR-a-UNPLUGGED carrier=$(cat /sys/class/net/eth0/carrier)"
read -t 300 next || { echo "PAIR-a-NEXT=none"; exit 1; }
[ "$next" = bridge ] || exit 0
wait_carrier 1 || { echo "PAIR-a-BRIDGE=no-carrier"; exit 1; }
fetch BRIDGE 10.0.9.254 data || exit 1
# The host moves A to a second new TAP on the bridge: vhost-net to vhost-net
# under the running driver, the rings taken over where the first left them.
echo "PAIR-a-BRIDGE-DONE"
read -t 300 next || { echo "PAIR-a-NEXT=none"; exit 1; }
fetch BRIDGE2 10.0.9.254 data || exit 1
echo "PAIR-a-BRIDGE2-DONE"
wait_carrier 0 || { echo "PAIR-a-UNPLUG=still-up"; exit 1; }
echo "PAIR-a-BRIDGE-UNPLUGGED carrier=$(cat /sys/class/net/eth0/carrier)"
