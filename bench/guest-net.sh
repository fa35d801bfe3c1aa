#!/bin/sh
# Network benchmark inside the test guest (bench/net.sh puts it in as /tests/net-bench.sh,
# with iperf3 and tcprr). Kernel command line: vmkit.netmode=dhcp|static (static: 10.10.0.2/24),
# vmkit.srv=ADDR (the iperf3 and tcprr servers in L1), vmkit.net_t=SEC, vmkit.rr_n=N.
# Prints NET job=... lines, then NET-DONE.
mode=dhcp srv=10.0.2.2 t=5 n=2000 stats=0 pings=20
for w in $(cat /proc/cmdline); do
    case $w in
    vmkit.stats=*) stats=${w#*=} ;;
    vmkit.pings=*) pings=${w#*=} ;;
    vmkit.netmode=*) mode=${w#*=} ;;
    vmkit.srv=*) srv=${w#*=} ;;
    vmkit.net_t=*) t=${w#*=} ;;
    vmkit.rr_n=*) n=${w#*=} ;;
    esac
done
ip link set lo up
ip link set eth0 up
if [ "$mode" = dhcp ]; then
    cat >/tmp/udhcpc.sh <<'S'
#!/bin/sh
[ "$1" = bound ] || exit 0
ifconfig "$interface" "$ip" netmask "$subnet" up
route add default gw "$router" dev "$interface"
S
    chmod +x /tmp/udhcpc.sh
    udhcpc -i eth0 -n -q -t 5 -T 2 -s /tmp/udhcpc.sh >/dev/null 2>&1 || { echo "NET-DHCP=failed"; exit 1; }
else
    ip addr add 10.10.0.2/24 dev eth0
fi
i=0
until ping -c 1 -W 1 "$srv" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 60 ] || { echo "NET-PING=failed"; exit 1; }
done
mbps() { awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) } END { print v + 0 }'; }
# iperf3's server may still be busy with the previous test for a moment.
iperf() {
    for k in 1 2 3; do
        o=$(iperf3 -c "$srv" -t "$t" -f m "$@" 2>&1) && { echo "$o" | mbps; return; }
        sleep 1
    done
    echo "$o" | tail -3 >&2
    echo 0
}
# vmkit.stats=1: around the latency jobs, the guest's interrupt counts, and a connection to
# L1's port 5300, where bench/net.sh --stats snapshots L1's KVM counters under the label sent.
irqs() { awk 'NR > 1 { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; n = $NF; if ($1 ~ /^[A-Z]+:$/) n = $1; gsub(/[: ]/, "", n); printf " %s=%d", n, s }' /proc/interrupts; }
mark() {
    [ "$stats" = 1 ] || return 0
    echo "$1" | nc -w 5 "$srv" 5300 >/dev/null 2>&1
    echo "NET-IRQ label=$1$(irqs)"
}
if [ "$t" -gt 0 ]; then
    echo "NET job=g2h MBPS=$(iperf)"
    echo "NET job=h2g MBPS=$(iperf -R)"
fi
mark rr-start
r=$(tcprr -c "$srv" -p 5202 -n "$n") && echo "NET job=rr $r" || echo "NET job=rr failed"
mark rr-end
mark ping-start
p=$(ping -c "$pings" -i 0.2 "$srv" | sed -n 's|.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*|\1|p')
mark ping-end
echo "NET job=ping AVG_MS=${p:-0}"
echo "NET-DONE"
