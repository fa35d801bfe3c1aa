#!/usr/bin/env bash
# Exit-cost benchmark: the direct-tier test guest's `vmkit.t=pause ticks=N` test busy-waits on
# the ACPI PM timer (an `inl` from the PM timer port in a loop, 100 ms per tick), so nearly
# every exit is a port-I/O exit to the VMM.
#
#   bench/exits.sh [--reps R] [--low N] [--high N] [--no-qemu] [--l1] [BUILD_DIR]
#
# Where: on this host's /dev/kvm (hardware KVM or PVM, scripts/kvm-kind.sh); where there is no
# usable /dev/kvm, or with --l1, inside L1 (tests/nested/run-l1.sh: QEMU TCG emulating an AMD
# CPU with SVM, whose KVM is hardware-style). The first line of the output says which.
# Each VMM boots the guest with ticks=LOW and ticks=HIGH (R times each, alternating); perf
# counts kvm:kvm_userspace_exit (kvm:kvm_exit does not fire on PVM) and bench/vmmrun.c gives
# the process's user and sys time (wait4). Differences HIGH-LOW cancel boot, firmware and
# teardown, leaving (HIGH-LOW)*100 ms of pure PM-timer polling:
#   exits/tick        userspace exits per 100 ms of polling (higher = faster round trip)
#   wall/exit         100 ms / (exits/tick): one full round trip, guest loop included
#   user/exit, sys/exit, cpu/exit   delta CPU time of the VMM process / delta exits
# QEMU: q35 with -kernel and -cpu qemu64 (-cpu host fails on MSR 0x10a on PVM; microvm has a
# hardware-reduced FADT without a PM timer, so the guest's udelay never ends).
# Output: markdown on stdout and in bench/results/exits-<date>.md.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
reps=3 low=5 high=45 qemu=1 where=
while [[ $# -gt 0 ]]; do
    case $1 in
        --reps) reps=$2; shift 2 ;;
        --low) low=$2; shift 2 ;;
        --high) high=$2; shift 2 ;;
        --no-qemu) qemu=0; shift ;;
        --l1) where=l1; shift ;;
        -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "exits.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
B=$(cd "${1:-$ROOT/build}" && pwd)
G=$B/tests/direct/vmkit-testguest.bzimage
[[ -x $B/vmkit && -f $G ]] || { echo "exits.sh: need $B/vmkit and $G (ninja -C $B)" >&2; exit 1; }
kind=$("$ROOT/scripts/kvm-kind.sh")
if [[ -z $where ]]; then [[ $kind == none ]] && where=l1 || where=host; fi
if [[ $where == host ]]; then
    where_text="this host's /dev/kvm ($([[ $kind == pvm ]] && echo PVM || echo hardware KVM), $(uname -r))"
else
    where_text="inside L1 (QEMU TCG emulating SVM, nested KVM)$([[ $kind == none ]] && echo "; this host has no usable /dev/kvm")"
fi
echo "exits.sh: measuring on $where_text" >&2
command -v perf >/dev/null || { echo "exits.sh: needs perf (linux-perf) for kvm:kvm_userspace_exit" >&2; exit 1; }
[[ $qemu == 0 ]] || command -v qemu-system-x86_64 >/dev/null || { echo "exits.sh: no QEMU; --no-qemu" >&2; qemu=0; }

work=$(mktemp -d /tmp/vmkit-exits.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -o "$work/vmmrun" "$HERE/vmmrun.c"

# The measuring loop, the same script here and in L1 (bash; VMKIT, GUEST, QEMU_DATA, VMMRUN).
# Each run prints one "EXITS vmm=... rep=... ticks=... exits=... pio=... VMMRUN ..." line.
cat >"$work/measure.sh" <<'MEASURE'
set -u
cmd_for() {   # cmd_for VMM TICKS -> the command line, one word a line
    local a="vmkit.t=pause ticks=$2"
    case $1 in
        vmkit) printf '%s\n' "$VMKIT" --cpus 1 --memory 256 \
                   --bootloader "linux,kernel=$GUEST,cmdline=\"$a\"" --device serial,stdio ;;
        qemu) printf '%s\n' qemu-system-x86_64 ${QEMU_DATA:+-L} ${QEMU_DATA:+"$QEMU_DATA"} -enable-kvm \
                  -cpu qemu64 -M q35 -smp 1 -m 256 -nodefaults -no-user-config -no-reboot \
                  -display none -serial stdio -kernel "$GUEST" -append "$a" ;;
    esac
}
w=$(mktemp -d)
for ((r = 1; r <= REPS; r++)); do
    for v in $VMMS; do
        for t in $LOW $HIGH; do
            mapfile -t cmd <<<"$(cmd_for "$v" "$t")"
            out=$(perf stat -x, -o "$w/perf" -e kvm:kvm_userspace_exit,kvm:kvm_pio -- \
                  "$VMMRUN" -o "$w/con" -t 300 -m done="TAP done" -- "${cmd[@]}")
            exits=$(awk -F, '$3 == "kvm:kvm_userspace_exit" {print $1}' "$w/perf")
            pio=$(awk -F, '$3 == "kvm:kvm_pio" {print $1}' "$w/perf")
            if ! grep -q "TAP done $t 0" "$w/con" || [[ $out != *"rc=0 "* ]]; then
                echo "exits.sh: $v ticks=$t failed: $out" >&2; tail -n 5 "$w/con" >&2; continue
            fi
            echo "EXITS vmm=$v rep=$r ticks=$t exits=$exits pio=$pio $out"
        done
    done
done
rm -rf "$w"
MEASURE
vmms=vmkit; [[ $qemu == 1 ]] && vmms+=" qemu"
raw=$work/raw
if [[ $where == host ]]; then
    REPS=$reps LOW=$low HIGH=$high VMMS=$vmms VMKIT=$B/vmkit GUEST=$G VMMRUN=$work/vmmrun QEMU_DATA= \
        bash "$work/measure.sh" | tee "$raw" >&2
else
    # perf resolves tracepoints through tracefs, which L1's /init does not mount.
    install -m 0644 "$G" "$work/guest.bzimage"
    cat >"$work/l1.sh" <<L1
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || mount -t debugfs nodev /sys/kernel/debug
REPS=$reps LOW=$low HIGH=$high VMMS="$vmms" VMKIT=/bin/vmkit GUEST=/data/guest.bzimage VMMRUN=/bin/vmmrun \\
    QEMU_DATA=/data bash /data/measure.sh
echo BENCH-DONE
L1
    files=("$work/vmmrun" "$B/vmkit" "$(command -v perf)" "$(command -v bash)" "$work/guest.bzimage" "$work/measure.sh")
    if [[ $qemu == 1 ]]; then mapfile -t qf < <("$ROOT/tests/nested/qemu-files.sh"); files+=("${qf[@]}"); fi
    log=$work/l1.log
    "$ROOT/tests/nested/run-l1.sh" --timeout $((600 + 60 * reps * (high + low))) "$work/l1.sh" "${files[@]}" \
        </dev/null >"$log" 2>&1 || true
    tr -d '\r' <"$log" | grep -E "^(EXITS|exits.sh:) " >&2 || true
    tr -d '\r' <"$log" | grep "^EXITS " >"$raw" || true
    tr -d '\r' <"$log" | grep -q '^BENCH-DONE' || { echo "exits.sh: L1 did not finish:" >&2; tail -n 30 "$log" >&2; exit 1; }
fi
mkdir -p "$HERE/results"
md=$HERE/results/exits-$(date +%Y%m%d-%H%M).md
{
    echo "## Exit cost, $(date -u '+%Y-%m-%d %H:%M UTC'), on $where_text"
    echo
    echo "\`bench/exits.sh --reps $reps --low $low --high $high$([[ $where == l1 ]] && echo " --l1")\`: test guest \`vmkit.t=pause\`, ticks=$high minus ticks=$low ($(( (high - low) * 100 )) ms of PM-timer polling), medians of $reps pairs."
    echo
    awk -v low="$low" -v high="$high" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { delete f; for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v }
      key = f["vmm"] SUBSEP f["rep"]
      if (f["ticks"] == low) { L[key, "x"] = f["exits"]; L[key, "u"] = f["user_us"]; L[key, "s"] = f["sys_us"]; L[key, "w"] = f["exit_ms"]; hl[key]++ }
      else { H[key, "x"] = f["exits"]; H[key, "u"] = f["user_us"]; H[key, "s"] = f["sys_us"]; H[key, "w"] = f["exit_ms"]; hh[key]++ }
      if (!(f["vmm"] in seen)) { seen[f["vmm"]] = 1; order[++nv] = f["vmm"] }
      tot[f["vmm"], f["ticks"]] = f["exits"] }
    END {
        print "| VMM | pairs | exits/tick | wall/exit (µs) | user/exit (µs) | sys/exit (µs) | user+sys/exit (µs) | CPU share of polling |"
        print "|---|---|---|---|---|---|---|---|"
        for (vi = 1; vi <= nv; vi++) {
            v = order[vi]; n = 0
            for (key in hl) { split(key, kk, SUBSEP); if (kk[1] != v || !(key in hh)) continue
                dx = H[key, "x"] - L[key, "x"]; if (dx <= 0) continue
                n++; et[n] = dx / (high - low); ww[n] = 100000 / et[n]
                uu[n] = (H[key, "u"] - L[key, "u"]) / dx; ss[n] = (H[key, "s"] - L[key, "s"]) / dx
                cc[n] = uu[n] + ss[n]; sh[n] = cc[n] / ww[n] * 100 }
            if (!n) continue
            m[v, "et"] = med(et, n); m[v, "w"] = med(ww, n); m[v, "u"] = med(uu, n); m[v, "s"] = med(ss, n); m[v, "c"] = med(cc, n); m[v, "sh"] = med(sh, n)
            printf "| %s | %d | %.0f | %.1f | %.2f | %.1f | %.1f | %.0f%% |\n", v, n, m[v, "et"], m[v, "w"], m[v, "u"], m[v, "s"], m[v, "c"], m[v, "sh"]
            done[v] = 1
        }
        if (done["vmkit"] && done["qemu"])
            printf "| **vmkit / QEMU** | | %.2f | %.2f | %s | %.2f | %.2f | |\n", m["vmkit", "et"] / m["qemu", "et"], m["vmkit", "w"] / m["qemu", "w"],
                (m["qemu", "u"] > 0 ? sprintf("%.2f", m["vmkit", "u"] / m["qemu", "u"]) : "-"), m["vmkit", "s"] / m["qemu", "s"], m["vmkit", "c"] / m["qemu", "c"]
    }' "$raw"
    echo
    echo "Raw runs:"
    echo
    sed 's/^/    /' "$raw"
} | tee "$md"
echo "exits.sh: wrote $md" >&2
