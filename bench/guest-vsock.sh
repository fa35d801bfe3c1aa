#!/bin/sh
# Guest side of bench/vsock.sh: installed as /tests/vsock-bench.sh (with bench/vsockperf)
# and run with vmkit.test=vsock-bench. Talks to a vsockperf server at host CID 2, port 5001
# (vmkit forwards it to a unix socket in L1, QEMU's vhost-vsock to an AF_VSOCK listener in
# L1). Kernel command line: vmkit.vsp_mb=MiB per throughput job (default 256),
# vmkit.vsp_rr=N round trips (default 2000), vmkit.vsp_port=PORT.
# Prints "VSP job=..." lines, "VSP-IRQ label=..." with the guest's virtio interrupt counts; "BENCH-MARK JOB-start|JOB-end" around each job (L1 snapshots
# its KVM counters then; the pause after each mark lets the snapshot land outside the job).
mb=256 rr=2000 port=5001
for w in $(cat /proc/cmdline); do
    case $w in
    vmkit.vsp_mb=*) mb=${w#*=} ;;
    vmkit.vsp_rr=*) rr=${w#*=} ;;
    vmkit.vsp_port=*) port=${w#*=} ;;
    esac
done
[ -e /dev/vsock ] || { echo "VSP-ERROR no /dev/vsock"; exit 1; }
# The guest's interrupt counts of its virtio vectors (NAME=count, NAME as /proc/interrupts
# ends the line: virtioN-rx, -tx, -event, -config).
irqs() { awk '/virtio/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; printf " %s=%d", $NF, s }' /proc/interrupts; }
mark() { echo "VSP-IRQ label=$1$(irqs)"; echo "BENCH-MARK $1"; sleep 2; }
a=vsock:2:$port
# The first connection also checks the path (a host side that is not up yet fails it).
i=0
until vsockperf -c $a -m rr -n 10 >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 30 ] || { echo "VSP-ERROR cannot reach $a"; exit 1; }
    sleep 1
done
rc=0
for j in g2h h2g rr; do
    mark $j-start
    if [ $j = rr ]; then
        vsockperf -c $a -m rr -n "$rr" || { echo "VSP-ERROR job=$j"; rc=1; }
    else
        vsockperf -c $a -m $j -b $((mb * 1048576)) || { echo "VSP-ERROR job=$j"; rc=1; }
    fi
    mark $j-end
done
echo "VSP-DONE"
exit $rc
