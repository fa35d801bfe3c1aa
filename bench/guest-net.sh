#!/bin/sh
# Network benchmark inside the test guest (bench/net.sh puts it in as /tests/net-bench.sh,
# with iperf3 and tcprr). Kernel command line: vmkit.netmode=dhcp|static (static: 10.10.0.2/24),
# vmkit.srv=ADDR (the iperf3 and tcprr servers in L1), vmkit.net_t=SEC, vmkit.rr_n=N.
# Prints NET job=... lines, then NET-DONE.
mode=dhcp srv=10.0.2.2 t=5 n=2000
for w in $(cat /proc/cmdline); do
    case $w in
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
echo "NET job=g2h MBPS=$(iperf)"
echo "NET job=h2g MBPS=$(iperf -R)"
r=$(tcprr -c "$srv" -p 5202 -n "$n") && echo "NET job=rr $r" || echo "NET job=rr failed"
p=$(ping -c 20 -i 0.2 "$srv" | sed -n 's|.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*|\1|p')
echo "NET job=ping AVG_MS=${p:-0}"
echo "NET-DONE"
