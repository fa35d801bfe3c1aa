#!/usr/bin/env bash
# Network benchmark: vmkit's virtio-net against QEMU+KVM's virtio-net-pci, both inside one L1
# (tests/nested/run-l1.sh), on the same backends, measured from INSIDE the guest.
#
#   bench/net.sh [--time SEC] [--rounds N] [--rr N] [--no-tap-off] [--only REGEX] [BUILD_DIR]
#
# Pairs (same backend each):
#   NAT:  vmkit virtio-net,nat (libslirp)  vs  QEMU -netdev user (libslirp too)
#   TAP:  vmkit virtio-net,bridge=br0 (a new TAP on bridge br0, vhost-net)
#         vs  QEMU -netdev tap,ifname=qtap0,vhost=on (QEMU's new TAP, its script adds it to br0)
#   plus vmkit's TAP with vhost=off (its own I/O thread), for reference (--no-tap-off skips it).
#   --only REGEX runs the configurations whose names match (vmkit-nat, qemu-user, vmkit-tap-vhost,
#   qemu-tap-vhost, vmkit-tap-novhost).
#   --stats: around the request/response and ping jobs, L1's KVM counters (debugfs, via a
#   connection from the guest to L1's port 5300) and the guest's interrupt counts; their medians
#   per exchange / per ping go into a second table (exit counts are not timing: they are
#   meaningful on a loaded host too). --time 0 skips the iperf3 jobs; --pings N (default 20).
#   --report LOG: no run; the tables again from an earlier run's log (pass that run's options).
# The guest (the stock test guest + an appended cpio with Debian's iperf3, its libraries,
# bench/tcprr and bench/guest-net.sh as /tests/net-bench.sh) is the client of servers in L1:
# iperf3 -s (5201) and tcprr -s (5202), reached at 10.0.2.2 (slirp's gateway = L1's loopback)
# or 10.10.0.1 (br0). Jobs: guest->host TCP (iperf3 -c, SEC seconds, default 5), host->guest
# (iperf3 -R), TCP request/response latency (tcprr: N 1-byte exchanges, default 2000; mean),
# ping -c 20 -i 0.2 (average; under NAT slirp itself answers the gateway's pings).
# Both VMMs: 1 vCPU, 512 MiB, the same kernel, initrd and MAC; QEMU -M q35.
# Runs alternate (ABBA across rounds, default 2); medians and vmkit/QEMU ratios go to stdout
# and bench/results/net-<date>.md; the L1 console to bench/results/net-<date>.log.
set -euo pipefail
invocation="bench/net.sh $*"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BENCH_NAME=net.sh
. "$HERE/lib.sh"

T=5 rounds=2 rr=2000 tapoff=1 only= stats=0 pings=20 report=
MEM=512
MAC=52:54:00:00:10:02
while [[ $# -gt 0 ]]; do
    case $1 in
        --time) T=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --rr) rr=$2; shift 2 ;;
        --no-tap-off) tapoff=0; shift ;;
        --only) only=$2; shift 2 ;;
        --stats) stats=1; shift ;;
        --pings) pings=$2; shift 2 ;;
        --report) report=$(realpath "$2"); shift 2 ;;
        -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "net.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
B=$(cd "${1:-$ROOT/build}" && pwd)
[[ -x $B/vmkit ]] || { echo "net.sh: no $B/vmkit (ninja -C $B)" >&2; exit 1; }

work=$(mktemp -d /tmp/vmkit-net.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -static -o "$work/vmmrun" "$HERE/vmmrun.c" 2>/dev/null ||
    cc -O2 -Wall -o "$work/vmmrun" "$HERE/vmmrun.c"
cc -O2 -Wall -static -o "$work/tcprr" "$HERE/tcprr.c"
cp "$B/vmkit" "$work/vmkit"     # a snapshot: others may rebuild the tree meanwhile

# --- iperf3 from Debian (apt-get download + dpkg -x into the cache), for the guest and L1.
bench_guest_dirs
X=$work/pkg
for p in iperf3 libiperf0 libsctp1; do bench_fetch_deb "$p" "$X"; done
IPERF=$X/usr/bin/iperf3
LP=$(bench_libpath "$X")
bench_check_libs "$IPERF" "$X" || exit 1
o=$work/overlay
mkdir -p "$o/bin" "$o/tests"
cp "$IPERF" "$work/tcprr" "$o/bin/"
install -m 0755 "$HERE/guest-net.sh" "$o/tests/net-bench.sh"
bench_copy_libs "$IPERF" "$X" "$o"
NI=$work/initrd-net.cpio
bench_initrd "$o" "$NI"

# --- Configurations: cases of one shell function; names start with the VMM.
BASE="console=ttyS0 quiet panic=-1 vmkit.test=net-bench vmkit.net_t=$T vmkit.rr_n=$rr vmkit.stats=$stats vmkit.pings=$pings"
NAT="vmkit.netmode=dhcp vmkit.srv=10.0.2.2"
TAP="vmkit.netmode=static vmkit.srv=10.10.0.1"
names=() cases="" n=0
cfg() {    # NAME CMDLINE-EXTRA VMM-ARGS...
    local name=$1 extra=$2; shift 2
    [[ -z $only || $name =~ $only ]] || return 0
    names+=("$name")
    cases+="    $n) CMDLINE='$BASE $extra'; run_one '$name' $* ;;
"
    n=$((n + 1))
}
VK='vmkit --cpus 1 --memory '$MEM' --bootloader "linux,kernel=$GUEST_KERNEL,initrd=/data/initrd-net.cpio,cmdline=\"$CMDLINE\"" --device serial,stdio --device'
QE='qemu-system-x86_64 -L /data -enable-kvm -cpu host -M q35 -smp 1 -m '$MEM' -nodefaults -no-user-config -no-reboot -display none -serial stdio -kernel "$GUEST_KERNEL" -initrd /data/initrd-net.cpio -append "$CMDLINE" -device virtio-net-pci,netdev=n0,mac='$MAC' -netdev'
cfg vmkit-nat "$NAT" "$VK virtio-net,nat,mac=$MAC"
cfg qemu-user "$NAT" "$QE user,id=n0"
cfg vmkit-tap-vhost "$TAP" "$VK virtio-net,bridge=br0,mac=$MAC"
cfg qemu-tap-vhost "$TAP" "$QE tap,id=n0,ifname=qtap0,script=/bin/qemu-ifup,downscript=no,vhost=on"
[[ $tapoff == 1 ]] && cfg vmkit-tap-novhost "$TAP" "$VK virtio-net,bridge=br0,vhost=off,mac=$MAC"
ncfg=$n
vmm_timeout=$((200 + 3 * T + rr / 50 + pings / 4))

cat > "$work/l1.sh" <<EOF
#!/bin/sh
# Generated by bench/net.sh: runs in L1.
VMM_TIMEOUT=$vmm_timeout
ip link set lo up
ip link add br0 type bridge && ip addr add 10.10.0.1/24 dev br0 && ip link set br0 up || exit 1
echo "BENCH-L1 \$(uname -r) vhost-net: \$([ -c /dev/vhost-net ] && echo yes || echo no)"
LD_LIBRARY_PATH=$LP iperf3 -s -D || exit 1
tcprr -s 5202 &
if [ $stats = 1 ]; then
    mkdir -p /sys/kernel/debug && mount -t debugfs none /sys/kernel/debug
    nc -ll -p 5300 -e /bin/kvmsnap &
fi
run_one() {
    name=\$1; shift
    r=\$(vmmrun -o /tmp/con.log -g $MEM -t \$VMM_TIMEOUT -m ready=VMKIT-GUEST-READY -m done=NET-DONE -- "\$@")
    echo "BENCH round=\$i cfg=\$name \$r"
    tr -d '\r' < /tmp/con.log | grep -E '^NET job=' | sed "s/^/BENCH-NET round=\$i cfg=\$name /"
    tr -d '\r' < /tmp/con.log | grep -E 'vhost-net not used' | sed "s/^/BENCH-NOTE cfg=\$name /"
    tr -d '\r' < /tmp/con.log | grep -E '^NET-IRQ ' | sed "s/^/BENCH-IRQ round=\$i cfg=\$name /"
    [ -f /tmp/kvmstats ] && sed "s/^/BENCH-KVM round=\$i cfg=\$name /" /tmp/kvmstats && rm -f /tmp/kvmstats
    case \$r in *rc=0\ *) ;; *) echo "BENCH-FAIL cfg=\$name"; tail -n 30 /tmp/con.log ;; esac
}
run_cfg() {
    case \$1 in
$cases    esac
}
order=\$(seq 0 $((ncfg - 1)))
rorder=\$(seq $((ncfg - 1)) -1 0)
i=1
while [ \$i -le $rounds ]; do
    if [ \$((i % 2)) = 1 ]; then o=\$order; else o=\$rorder; fi
    for c in \$o; do run_cfg \$c; done
    i=\$((i + 1))
done
echo BENCH-DONE
EOF

# QEMU makes its TAP and runs this (busybox's ip cannot make a TAP for it beforehand).
printf '#!/bin/sh\nip link set "$1" master br0 && ip link set "$1" up\n' > "$work/qemu-ifup"
chmod 0755 "$work/qemu-ifup"
# --stats: one snapshot of L1's KVM counters (all VMs: one runs at a time) per connection.
cat > "$work/kvmsnap" <<'EOF'
#!/bin/sh
read -r label
{
    printf 'label=%s' "$label"
    for f in /sys/kernel/debug/kvm/*; do [ -f "$f" ] && printf ' %s=%s' "${f##*/}" "$(cat "$f")"; done
    printf ' ctxt=%s\n' "$(awk '/^ctxt/ { print $2 }' /proc/stat)"
} >> /tmp/kvmstats
EOF
chmod 0755 "$work/kvmsnap"
files=("$work/vmmrun" "$work/tcprr" "$work/vmkit" "$IPERF" "$NI" "$work/qemu-ifup" "$work/kvmsnap")
mapfile -t qf < <("$ROOT/tests/nested/qemu-files.sh")
files+=("${qf[@]}")

echo "net.sh: $ncfg configurations x $rounds rounds in L1 (console in bench/results)" >&2
# LD_LIBRARY_PATH: run-l1.sh's ldd then finds iperf3's libraries in the extracted packages
# and copies them to the same paths in L1, where the L1 script points iperf3 at them.
if [[ -n $report ]]; then
    log=$report md=${report%.log}.md
else
    LD_LIBRARY_PATH=$LP bench_run_l1 net \
        --timeout $((600 + rounds * ncfg * vmm_timeout / 2)) -- "$work/l1.sh" "${files[@]}"
fi

{
    echo "## Network benchmark (virtio-net), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "\`$invocation\`; $rounds rounds, alternating, medians; $(LD_LIBRARY_PATH=$LP "$IPERF" --version | head -1 | cut -d' ' -f1-2)"
    echo "in the guest (client) and in L1 (server); $T s per iperf3 run, $rr TCP exchanges of 1 byte (tcprr);"
    echo "1 vCPU, $MEM MiB; L1 = QEMU TCG with nested KVM; QEMU \`-M q35\`, virtio-net-pci;"
    echo "guest kernel $(cat "$G/kernel-release" 2>/dev/null || echo '?')."
    echo
    tr -d '\r' < "$log" | awk -v names="$(printf '%s\n' "${names[@]}")" "$BENCH_AWK_MED"'
    function kv(   i, p) { delete f; for (i = 1; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) } }
    function add(c, m, x,   k) { k = ++nn[c, m]; V[c, m, k] = x + 0 }
    function get(c, m,   k, a) { delete a; for (k = 1; k <= nn[c, m]; k++) a[k] = V[c, m, k]; return med(a, nn[c, m] + 0) }
    function cell(x) { return x < 0 ? "-" : sprintf(x >= 100 ? "%.0f" : "%.2f", x) }
    function ratio(a, b) { return (a < 0 || b <= 0) ? "-" : sprintf("**%.2f**", a / b) }
    BEGIN { nc = split(names, cn, "\n"); if (cn[nc] == "") nc--
            nm = split("g2h h2g rr p99 ping cpu", M, " ")
            hdr["g2h"] = "guest to host TCP (Mbit/s, higher is better)"; hdr["h2g"] = "host to guest TCP (Mbit/s, higher is better)"
            hdr["rr"] = "TCP request/response, mean (us, lower is better)"; hdr["p99"] = "TCP request/response, p99 (us, lower is better)"
            hdr["ping"] = "ping average (ms, lower is better)"; hdr["cpu"] = "VMM process CPU per run, user+sys incl. vCPU (s)" }
    /^BENCH round=/ { kv(); c = f["cfg"]; runs[c]++; if (f["rc"] != 0) fail[c]++; else add(c, "cpu", (f["user_us"] + f["sys_us"]) / 1e6) }
    /^BENCH-NET / { kv(); c = f["cfg"]
        if (f["job"] == "g2h" || f["job"] == "h2g") { if (f["MBPS"] > 0) add(c, f["job"], f["MBPS"]) }
        else if (f["job"] == "rr" && f["mean_us"] != "") { add(c, "rr", f["mean_us"]); add(c, "p99", f["p99_us"]) }
        else if (f["job"] == "ping" && f["AVG_MS"] > 0) add(c, "ping", f["AVG_MS"]) }
    END {
        printf "| metric | vmkit NAT | QEMU user | vmkit / QEMU | vmkit TAP+vhost | QEMU tap+vhost | vmkit / QEMU |"
        off = 0; for (ci = 1; ci <= nc; ci++) if (cn[ci] == "vmkit-tap-novhost") off = 1
        if (off) printf " vmkit TAP, vhost=off |"
        printf "\n|---|---|---|---|---|---|---|%s\n", off ? "---|" : ""
        for (m = 1; m <= nm; m++) {
            a = get("vmkit-nat", M[m]); b = get("qemu-user", M[m]); x = get("vmkit-tap-vhost", M[m]); y = get("qemu-tap-vhost", M[m])
            printf "| %s | %s | %s | %s | %s | %s | %s |", hdr[M[m]], cell(a), cell(b), ratio(a, b), cell(x), cell(y), ratio(x, y)
            if (off) printf " %s |", cell(get("vmkit-tap-novhost", M[m]))
            printf "\n"
        }
        printf "| runs (failed) | %d (%d) | %d (%d) | | %d (%d) | %d (%d) | |", runs["vmkit-nat"], fail["vmkit-nat"], runs["qemu-user"], fail["qemu-user"], runs["vmkit-tap-vhost"], fail["vmkit-tap-vhost"], runs["qemu-tap-vhost"], fail["qemu-tap-vhost"]
        if (off) printf " %d (%d) |", runs["vmkit-tap-novhost"], fail["vmkit-tap-novhost"]
        printf "\n"
    }'
    echo
    echo "Per-run values (g2h, h2g Mbit/s; rr mean us):"
    echo
    tr -d '\r' < "$log" | awk '/^BENCH-NET / {
        delete f; for (i = 1; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) }
        if (f["job"] == "ping") next
        x = f["job"] == "rr" ? f["mean_us"] : f["MBPS"]
        key = f["cfg"] " " f["job"]; if (!(key in s)) { order[++no] = key; s[key] = x } else s[key] = s[key] ", " x }
        END { for (i = 1; i <= no; i++) printf "- %s: %s\n", order[i], s[order[i]] }'
    if grep -q '^BENCH-KVM ' "$log"; then
        echo
        echo "Counts per request/response exchange (rr, $rr per run) and per ping (ping, $pings per run), medians over"
        echo "rounds: L1's KVM counters (kvm:) and the guest's /proc/interrupts (irq:); rows that are 0 everywhere are left out."
        echo
        tr -d '\r' < "$log" | awk -v names="$(printf '%s\n' "${names[@]}")" -v nrr="$rr" -v nping="$pings" "$BENCH_AWK_MED"'
        /^BENCH-(KVM|IRQ) / {
            t = $1 == "BENCH-KVM" ? "kvm" : "irq"; delete f
            for (i = 2; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) }
            c = f["cfg"]; r = f["round"]; rounds[r] = 1
            for (k in f) if (k != "cfg" && k != "round" && k != "label") { V[t, c, r, f["label"], k] = f[k] + 0; K[t ":" k] = 1 }
        }
        END {
            nc = split(names, cn, "\n"); if (cn[nc] == "") nc--
            printf "| counter |"; for (ci = 1; ci <= nc; ci++) printf " %s rr | %s ping |", cn[ci], cn[ci]; printf "\n|---|"
            for (ci = 1; ci <= nc; ci++) printf "---|---|"; printf "\n"
            nk = 0; for (k in K) keys[++nk] = k
            for (i = 2; i <= nk; i++) { x = keys[i]; for (j = i - 1; j >= 1 && keys[j] > x; j--) keys[j + 1] = keys[j]; keys[j + 1] = x }
            for (ki = 1; ki <= nk; ki++) {
                split(keys[ki], tk, ":"); line = "| " keys[ki] " |"; any = 0
                for (ci = 1; ci <= nc; ci++) for (ph = 1; ph <= 2; ph++) {
                    P = ph == 1 ? "rr" : "ping"; N = ph == 1 ? nrr : nping; n = 0; delete a
                    for (r in rounds) if ((tk[1], cn[ci], r, P "-start", tk[2]) in V && (tk[1], cn[ci], r, P "-end", tk[2]) in V)
                        a[++n] = (V[tk[1], cn[ci], r, P "-end", tk[2]] - V[tk[1], cn[ci], r, P "-start", tk[2]]) / N
                    m = n ? med(a, n) : 0; if (m != 0) any = 1
                    line = line sprintf(" %s |", n ? sprintf("%.2f", m) : "-")
                }
                if (any) print line
            }
        }'
    fi
    if grep -q BENCH-NOTE "$log"; then echo; echo "Notes:"; tr -d '\r' < "$log" | grep BENCH-NOTE | sort -u | sed 's/^/- /'; fi
} | tee "$md"
echo "net.sh: wrote $md" >&2
