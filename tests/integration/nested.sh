#!/usr/bin/env bash
# Nested tier: the real Debian kernel booted by vmkit inside L1 (a KVM host
# emulated by QEMU, see tests/nested/run-l1.sh), through the public API
# (vmkit-api-test) and the CLI. On a host whose KVM runs stock guests the
# same L1 script runs directly (VMK_DIRECT=1 forces it).
# usage: nested.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-guest-build; exit 0; }
CACHE=$("$ROOT/tools/guest/build-guest.sh" --print-dir)

# The script L1 runs. Each test's output is fenced so the host can judge it.
l1=$(mktemp /tmp/vmkit-l1.XXXXXX.sh)
cat >"$l1" <<'L1'
K=$GUEST_KERNEL; I=$GUEST_INITRD
C="console=ttyS0 panic=-1 quiet"
run() { name=$1; shift; echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; }
api() { vmkit-api-test --kernel "$K" --initrd "$I" --timeout 120 "$@"; }
run boot-marker api --memory 256 --cmdline "$C vmkit.test=poweroff" --on VMKIT-GUEST-READY=pause-resume
for n in 1 2 4; do run cpus-$n api --cpus $n --memory 256 --cmdline "$C vmkit.test=cpus"; done
run meminfo-512 api --memory 512 --cmdline "$C vmkit.test=meminfo"
run meminfo-1536 api --memory 1536 --cmdline "$C vmkit.test=meminfo"
run clock api --memory 256 --cmdline "$C vmkit.test=clock"
run request-stop api --memory 256 --cmdline "$C vmkit.test=sleep" --on SLEEPING=request-stop
run host-stop api --memory 256 --cmdline "$C vmkit.test=sleep" --on SLEEPING=stop --expect host-stop
run guest-poweroff api --memory 256 --cmdline "$C vmkit.test=poweroff"
run guest-reboot-stop api --memory 256 --reboot stop --cmdline "$C vmkit.test=reboot" --expect guest-reboot
run guest-reboot-restart api --memory 256 --cmdline "$C vmkit.test=reboot" --stop-after-reboots 1 --expect host-stop --expect-reboots 1
# The project's test guest on real KVM semantics too (some PVM quirks hide here).
T=/data/vmkit-testguest.bzimage
tg() { vmkit-api-test --kernel "$T" --timeout 60 "$@"; }
run tg-powerbutton tg --memory 64 --cmdline "vmkit.t=powerbutton" --on "TAP ok armed=request-stop"
run tg-smp-4 tg --cpus 4 --memory 64 --cmdline "vmkit.t=smp cpus=4"
run tg-acpi-2 tg --cpus 2 --memory 64 --cmdline "vmkit.t=acpi cpus=2"
run tg-uart tg --memory 64 --cmdline "vmkit.t=uart"
run tg-pause tg --memory 64 --cmdline "vmkit.t=pause ticks=6" --on "tick 2=pause-resume"
run cli-cpus vmkit --cpus 2 --memory 256 --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=cpus\"" --device serial,stdio
exit 0
L1

log="$VMK_LOGDIR/nested.log"
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$BUILD/tests:$PATH" GUEST_KERNEL=$CACHE/guest/vmlinuz GUEST_INITRD=$CACHE/guest/initrd.cpio.gz \
        sed "s#/data/vmkit-testguest.bzimage#$BUILD/tests/direct/vmkit-testguest.bzimage#" "$l1" | sh </dev/null >"$log" 2>&1
else
    # A copy without the x bit, so the rig puts it in /data.
    tg=$(mktemp -d /tmp/vmkit-tg.XXXXXX)
    install -m 0644 "$BUILD/tests/direct/vmkit-testguest.bzimage" "$tg/"
    "$ROOT/tests/nested/run-l1.sh" --timeout 1500 "$l1" "$BUILD/vmkit" "$BUILD/tests/vmkit-api-test" "$tg/vmkit-testguest.bzimage" \
        </dev/null >"$log" 2>&1
fi
rc=$?
rm -rf "$l1" "${tg:-}"
[ $rc -eq 0 ] && t_pass nested-rig || t_fail nested-rig "run-l1 exit $rc (log $log)"

# section NAME: the fenced output of one test.
section() { tr -d '\r' <"$log" | awk -v n="$1" '$0=="=== BEGIN " n {on=1; next} on && index($0, "=== END " n " ")==1 {print; exit} on'; }
check() {
    local name=$1; shift
    local f="$VMK_LOGDIR/nested-$name.log"
    section "$name" >"$f"
    t_expect "nested-$name" "$f" "=== END $name rc=0" "$@"
}

check boot-marker VMKIT-GUEST-READY "API state paused" "stop-reason guest-poweroff"
for n in 1 2 4; do check cpus-$n "^CPUS=$n" "VMKIT-TEST-EXIT=0"; done
for m in 512 1536; do
    f="$VMK_LOGDIR/nested-meminfo-$m.log"
    section meminfo-$m >"$f"
    kb=$(grep -Eo 'MemTotal: *[0-9]+' "$f" | grep -Eo '[0-9]+$')
    # MemTotal is RAM minus what the kernel keeps for itself: within 10%.
    if [ -n "$kb" ] && [ "$kb" -le $((m * 1024)) ] && [ "$kb" -ge $((m * 1024 * 90 / 100)) ]; then
        t_pass nested-meminfo-$m
    else
        t_fail nested-meminfo-$m "MemTotal ${kb:-?} kB for $m MiB"
    fi
done
f="$VMK_LOGDIR/nested-clock.log"; section clock >"$f"
g=$(grep -Eo '^CLOCK=[0-9]+' "$f" | cut -d= -f2); h=$(grep -Eo 'API host-clock [0-9]+' "$f" | awk '{print $3}')
if [ -n "$g" ] && [ -n "$h" ] && [ $((g - h)) -le 1 ] && [ $((h - g)) -le 1 ]; then
    t_pass nested-clock
else
    t_fail nested-clock "guest ${g:-?} host ${h:-?}"
fi
check request-stop SLEEPING VMKIT-GUEST-POWER-BUTTON "stop-reason guest-poweroff"
check host-stop SLEEPING "stop-reason host-stop"
check guest-poweroff "stop-reason guest-poweroff"
check guest-reboot-stop "stop-reason guest-reboot"
check guest-reboot-restart "API did-reboot" "stop-reason host-stop"
check cli-cpus "^CPUS=2" "VMKIT-TEST-EXIT=0"
for t in tg-powerbutton tg-smp-4 tg-acpi-2 tg-uart tg-pause; do check $t "TAP done [1-9][0-9]* 0" "stop-reason guest-poweroff"; done
exit 0
