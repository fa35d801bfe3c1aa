#!/usr/bin/env bash
# Nested tier, networking beyond NAT (NAT is in nested.sh): two VMs on a
# socketpair LAN through the public API (vmkit-net-pair: ping, a file copied
# both ways, a burst of datagrams sent to a paused VM that must all arrive
# once it resumes (transmit backpressure, no drops), then one VM goes away
# and the other sees link down and the observer hears it; then its
# attachment is changed at run time: refused calls, a new socketpair to a
# third VM, the cable pulled, and in the datagram run a bridge with
# vhost-net inside a network namespace), and a bridged TAP
# inside a network namespace of L1
# (the vmkit CLI). One L1 run of its own; VMK_DIRECT=1 runs the same script
# on this host (needs root for the namespace).
# usage: nested-net.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-net-guest-build; exit 0; }
GD=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)

# The burst's guest tool (tests/guest/udpburst.c), static, as a cpio archive
# the L1 script appends to the guest's initramfs (/bin/udpburst).
work=$(mktemp -d /tmp/vmkit-net.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/o/bin"
if ! cc -O2 -Wall -static -o "$work/o/bin/udpburst" "$ROOT/tests/guest/udpburst.c"; then
    t_fail nested-net-udpburst-build; exit 0
fi
(cd "$work/o" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$work/udpburst.cpio.gz"

l1=$(mktemp /tmp/vmkit-l1-net.XXXXXX.sh)
cat >"$l1" <<'L1'
K=$GUEST_KERNEL; I=$GUEST_INITRD
C="console=ttyS0 panic=-1 quiet"
run() { name=$1; shift; echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; }
t0=$(cut -d' ' -f1 /proc/uptime)
PI=/tmp/initrd-pair.cpio.gz
cat "$I" "$GUEST_DATA/udpburst.cpio.gz" >$PI
pair() { vmkit-net-pair --kernel "$K" --initrd "$PI" --memory 256 --timeout 600 --cmdline "$C vmkit.test=net-pair" "$@"; }
# The datagram pair runs in a namespace with a bridge, 10.0.9.254 serving
# data.bin: A's last attachment change plugs it there (--bridge).
cat >/tmp/pairns.sh <<'PNS'
ip link set lo up
ip link add br0 type bridge || exit 1
ip addr add 10.0.9.254/24 dev br0
ip link set br0 up
w=$(mktemp -d); head -c 1000000 /dev/urandom >"$w/data.bin"
md5sum <"$w/data.bin" | cut -d' ' -f1 >"$w/data.md5"
echo "HOST-DATA-MD5=$(cat "$w/data.md5")"
if [ -c /dev/vhost-net ]; then echo "L1-VHOST=present"; else echo "L1-VHOST=missing"; fi
busybox httpd -f -p 10.0.9.254:8080 -h "$w" & hp=$!
"$@"; rc=$?
kill $hp; wait $hp 2>/dev/null; rm -rf "$w"
exit $rc
PNS
run net-pair unshare -n sh /tmp/pairns.sh vmkit-net-pair --kernel "$K" --initrd "$PI" --memory 256 \
    --timeout 600 --cmdline "$C vmkit.test=net-pair" --bridge br0
run net-pair-seqpacket pair --socket seqpacket --mtu 9000
# Bridged and TAP: everything in a network namespace of its own (busybox ip
# has no netns, so unshare). 10.10.0.1 with an httpd is first a bridge's
# address (vmkit adds a new TAP to it), then an existing TAP's. Once the
# guest has its file, the TAP is deleted under vmkit: the guest must see link
# down, vmkit say so, and the VM keep running and power off.
cat >/tmp/ns.sh <<'NS'
ip link set lo up
w=$(mktemp -d); head -c 1000000 /dev/urandom >"$w/data.bin"
echo "HOST-MD5=$(md5sum <"$w/data.bin" | cut -d' ' -f1)"
# boot DEVICE TAP: TAP is the interface to delete ("" = br0's only port).
boot() {
    busybox httpd -f -p 10.10.0.1:8080 -h "$w" & hp=$!
    o=$(mktemp)
    vmkit --memory 256 --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=net-bridge\"" \
        --device serial,stdio --device "$1" >"$o" 2>&1 &
    vp=$!
    for i in $(seq 300); do grep -q BR-FLAP-READY "$o" && break; sleep 1; done
    tap=${2:-$(ip -o link | sed -n 's/^[0-9]*: \([^:@]*\).*master br0.*/\1/p' | head -1)}
    echo "NS-TAP=$tap"
    # Administratively down for 3 s, then up: not a removal.
    [ -n "$tap" ] && ip link set "$tap" down && sleep 3 && ip link set "$tap" up
    for i in $(seq 300); do grep -q BR-WAIT "$o" && break; sleep 1; done
    [ -n "$tap" ] && ip link del "$tap"
    wait $vp; rc=$?; cat "$o"; rm -f "$o"
    kill $hp; wait $hp 2>/dev/null
    return $rc
}
if [ "$1" = bridge ]; then
    ip link add br0 type bridge || exit 1
    ip addr add 10.10.0.1/24 dev br0
    ip link set br0 up
    boot virtio-net,bridge=br0,mac=52:54:00:00:10:02 ""; rc=$?
    echo "NS-PORTS-AFTER=$(ip -o link | grep -c "master br0")"
else
    busybox tunctl -t vmktap0 >/dev/null || exit 1
    ip addr add 10.10.0.1/24 dev vmktap0
    ip link set vmktap0 up
    # vhost=off: vmkit itself writes the TAP, and sees its EIO while it is down.
    boot virtio-net,tap=vmktap0,vhost=off,mac=52:54:00:00:10:03 vmktap0; rc=$?
fi
rm -rf "$w"; exit $rc
NS
net_bridge() {
    if [ -c /dev/net/tun ]; then echo "L1-TUN=present"; else echo "L1-TUN=missing"; fi
    K=$K I=$I C=$C unshare -n sh /tmp/ns.sh bridge
    rc=$?
    # The namespace's bridge never shows up outside it.
    ip link show br0 >/dev/null 2>&1 && echo "ROOT-NS-BR0=present" || echo "ROOT-NS-BR0=absent"
    return $rc
}
run net-bridge net_bridge
run net-tap env K=$K I=$I C="$C" unshare -n sh /tmp/ns.sh tap
no_bridge() {
    unshare -n vmkit --memory 256 --bootloader "linux,kernel=$K,initrd=$I" --device serial,stdio \
        --device virtio-net,bridge=nobr0
    echo "VMKIT-RC=$?"
}
run net-no-bridge no_bridge
echo "L1-NET-SECONDS=$(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%d", b - a }')"
exit 0
L1

log="$VMK_LOGDIR/nested-net.log"
start=$(date +%s)
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$BUILD/tests:$PATH" GUEST_KERNEL=$GD/vmlinuz GUEST_INITRD=$GD/initrd.cpio.gz \
        GUEST_DATA=$work sh "$l1" </dev/null >"$log" 2>&1
else
    "$ROOT/tests/nested/run-l1.sh" --timeout 1500 --retries 1 "$l1" "$BUILD/vmkit" "$BUILD/tests/vmkit-net-pair" \
        "$work/udpburst.cpio.gz" </dev/null >"$log" 2>&1
fi
rc=$?
rm -f "$l1"
echo "nested-net: L1 run took $(($(date +%s) - start)) s"
[ $rc -eq 0 ] && t_pass nested-net-rig || t_fail nested-net-rig "run-l1 exit $rc (log $log)"


# Socketpair LAN: ping and copy both ways; the burst to a paused B: A's
# sender had to wait (its vmkit held the frames) and B got every datagram,
# once and in order; then B is stopped and freed, A sees its link go down
# while running, and powers off by itself.
for t in net-pair net-pair-seqpacket; do
    check $t "A\| PAIR-a-MAC=52:54:00:00:00:0a" "B\| PAIR-b-MAC=52:54:00:00:00:0b" \
        "A\| PAIR-a-PING-RECEIVED=3" "B\| PAIR-b-PING-RECEIVED=3" "A\| PAIR-a-COPY=ok" "B\| PAIR-b-COPY=ok" \
        "API B paused for the burst" "API B resumed after .*: A's sender waits" "A\| UDPBURST-SENT=2000 " \
        "B\| UDPBURST-GOT=2000 missing=0 dup=0 reordered=0 sockdrops=0" \
        "API B stop-reason host-stop" "API A network-disconnected index=0 state=running" \
        "A\| PAIR-LINK=down carrier=0" "A\| PAIR-ALIVE=" "A\| VMKIT-TEST-EXIT=0" \
        "API A stop-reason guest-poweroff" "API pair ok" \
        "API change of device 1: refused \(invalid-argument \[network_devices\[1\].attachment\]" \
        "API change of a VM not started: refused \(invalid-state " "API change to another MTU: refused " \
        "API change to a TAP that does not open: refused " "API A attachment changed to C, while paused: ok" \
        "C\| PAIR-c-READY" "A\| PAIR-a-SWAP-CARRIER=1" "A\| PAIR-a-SWAP-PING-RECEIVED=3" \
        "A\| PAIR-a-SWAP-COPY=ok" "API A attachment changed to none, cable pulled: ok" \
        "A\| PAIR-a-UNPLUGGED carrier=0" "API C stop-reason host-stop" &&
        { same_values $t PAIR-a-SENT-MD5 PAIR-b-GOT-MD5; same_values $t PAIR-b-SENT-MD5 PAIR-a-GOT-MD5;
          same_values $t PAIR-c-SENT-MD5 PAIR-a-SWAP-GOT-MD5; }
    # B's going away, and none of the changes, reached A's observer.
    f="$VMK_LOGDIR/nested-$t.log"
    [ "$(grep -c "API A network-disconnected" "$f")" = 1 ] &&
        t_pass nested-$t-one-disconnect || t_fail nested-$t-one-disconnect "the changes reached the observer"
done
# Pulling A's cable closed A's socket end: C's seqpacket sees it at once.
t_expect nested-net-pair-seqpacket-closed "$VMK_LOGDIR/nested-net-pair-seqpacket.log" \
    "API C network-disconnected index=0 state=running"

# NULL to a bridge (a new TAP) under a device made on a socket: no offloads,
# zeroed headers to the TAP, vhost-net started under the running driver.
# Then to a second new TAP (vhost to vhost: the rings handed back and taken
# over) and the cable pulled (vhost closed).
check net-pair "L1-VHOST=present" "API A attachment changed to br0: ok" "API A vhost-net descriptors=1" \
    "A\| PAIR-a-BRIDGE-PING-RECEIVED=3" "A\| PAIR-a-BRIDGE-COPY=ok" "A\| PAIR-a-BRIDGE2-COPY=ok" \
    "API A vhost-net descriptors=0" "A\| PAIR-a-BRIDGE-UNPLUGGED carrier=0" &&
    { same_values net-pair HOST-DATA-MD5 PAIR-a-BRIDGE-GOT-MD5; same_values net-pair HOST-DATA-MD5 PAIR-a-BRIDGE2-GOT-MD5; }
[ "$(grep -c "API A vhost-net descriptors=1" "$VMK_LOGDIR/nested-net-pair.log")" = 2 ] &&
    t_pass nested-net-pair-vhost-twice || t_fail nested-net-pair-vhost-twice "the second TAP has no vhost-net"

if grep -q "vhost-net not used" "$VMK_LOGDIR/nested-net-pair.log"; then
    t_fail nested-net-pair-vhost "vhost-net not used"
else
    t_pass nested-net-pair-vhost
fi

t_expect nested-net-pair-mtu "$VMK_LOGDIR/nested-net-pair.log" "A\| PAIR-a-MTU=1500" "B\| PAIR-b-MTU=1500"
t_expect nested-net-pair-seqpacket-mtu "$VMK_LOGDIR/nested-net-pair-seqpacket.log" "A\| PAIR-a-MTU=9000" \
    "B\| PAIR-b-MTU=9000" "A\| PAIR-a-BIG-PING=ok" "B\| PAIR-b-BIG-PING=ok"
check net-bridge "L1-TUN=present" "BR-PING-RECEIVED=3" "BR-FLAP-SEEN=1" "BR-AFTER-FLAP-RECEIVED=3" "NS-TAP=tap[0-9]" "network device 0 lost its attachment" \
    "BR-LINK=down carrier=0" "VMKIT-TEST-EXIT=0" "NS-PORTS-AFTER=0" \
    "ROOT-NS-BR0=absent" && same_values net-bridge HOST-MD5 BR-MD5
check net-tap "NS-TAP=vmktap0" "BR-PING-RECEIVED=3" "BR-FLAP-SEEN=1" "BR-AFTER-FLAP-RECEIVED=3" "network device 0 lost its attachment" "BR-LINK=down carrier=0" \
    "VMKIT-TEST-EXIT=0" && same_values net-tap HOST-MD5 BR-MD5
f="$VMK_LOGDIR/nested-net-no-bridge.log"; section net-no-bridge >"$f"
t_expect nested-net-no-bridge "$f" "bridge nobr0 does not exist" "VMKIT-RC=[1-9]"
exit 0
