#!/bin/sh
# Runs inside L1 (via run-l1.sh from qemu-smoke.sh): boots the L2 test guest with QEMU+KVM and
# checks the ready marker, two guest tests and the ACPI power button. Prints SMOKE-* lines.
fail=0
now() { cut -d' ' -f1 /proc/uptime; }
QEMU="qemu-system-x86_64 -L /data -enable-kvm -cpu host -nodefaults -no-user-config -no-reboot"
CMDLINE="console=ttyS0 quiet panic=-1"

# boot NAME MACHINE SMP TEST: boots to completion with the console on stdout and records
# when the ready marker appeared, relative to QEMU's start.
boot() {
    name=$1; machine=$2; smp=$3; test=$4
    t0=$(now)
    $QEMU -M "$machine" -m 512 -smp "$smp" -nographic -serial stdio \
        -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
        -append "$CMDLINE vmkit.test=$test" </dev/null >/tmp/$name.log 2>&1
    qrc=$?
    t1=$(now)
    cat /tmp/$name.log
    echo "SMOKE-TIME $name qemu-rc=$qrc total=$(awk "BEGIN{print $t1-$t0}")s"
}
check() {     # check NAME PATTERN: the log of NAME must contain the line PATTERN
    if tr -d '\r' < /tmp/$1.log | grep -q -- "$2"; then echo "SMOKE-OK $1: $2"
    else echo "SMOKE-FAIL $1: missing '$2'"; fail=1; fi
}

# Time to the marker: watch the console as it streams.
t0=$(now)
$QEMU -M q35 -m 512 -smp 1 -nographic -serial stdio -kernel "$GUEST_KERNEL" \
    -initrd "$GUEST_INITRD" -append "$CMDLINE" </dev/null 2>&1 |
    while IFS= read -r l; do
        echo "$l"
        case $l in *VMKIT-GUEST-READY*)
            echo "SMOKE-TIME l2-ready q35 $(awk "BEGIN{print $(now)-$t0}")s"
            # No test requested: the guest waits in a shell; end it.
            kill $(pidof qemu-system-x86_64) ;;
        esac
    done

boot meminfo q35 1 meminfo
check meminfo 'VMKIT-GUEST-READY'
check meminfo '^MemTotal: '
check meminfo 'VMKIT-TEST-EXIT=0'

boot cpus q35 2 cpus
check cpus 'VMKIT-GUEST-READY'
check cpus '^CPUS=2$'
check cpus 'VMKIT-TEST-EXIT=0'

boot microvm microvm 1 meminfo
check microvm 'VMKIT-TEST-EXIT=0'

# ACPI power button: the guest sleeps; the monitor's system_powerdown presses the button;
# acpid in the guest must run poweroff, and QEMU must then exit on its own (clean S5).
rm -f /tmp/mon.in /tmp/mon.out
mkfifo /tmp/mon.in /tmp/mon.out
$QEMU -M q35 -m 512 -smp 1 -display none -serial file:/tmp/power.log -monitor pipe:/tmp/mon \
    -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" -append "$CMDLINE vmkit.test=sleep" \
    </dev/null >/tmp/power.qemu 2>&1 &
qpid=$!
cat /tmp/mon.out >/dev/null &            # drain the monitor's replies
i=0
while ! grep -q SLEEPING /tmp/power.log 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
t0=$(now)
echo system_powerdown > /tmp/mon.in
i=0
while kill -0 $qpid 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if kill -0 $qpid 2>/dev/null; then
    echo "SMOKE-FAIL power: QEMU still running 30 s after system_powerdown"; fail=1; kill $qpid
else
    wait $qpid; prc=$?
    echo "SMOKE-TIME power-button-to-exit $(awk "BEGIN{print $(now)-$t0}")s qemu-rc=$prc"
fi
cat /tmp/power.log
check power 'VMKIT-GUEST-POWER-BUTTON'
check power 'reboot: Power down'

[ $fail = 0 ] && echo "SMOKE-PASS" || echo "SMOKE-FAILED"
exit $fail
