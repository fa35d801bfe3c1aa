#!/bin/sh
# Guest side of bench/fs.sh: installed as /tests/fs-bench.sh (with the tree to unpack as
# /src.tar) and run with vmkit.test=fs-bench. Mounts the virtio-fs tag "bench" and runs,
# each timed here (/proc/uptime, 10 ms) and each after dropping the guest's caches:
#   untar  tar -xf /src.tar into COPIES new directories, then sync
#   find   find over the unpacked trees | wc -l
#   stat   stat of every file and directory (find | xargs stat)
#   rm     rm -rf of the unpacked trees
#   write  dd 1 MiB blocks, MIB MiB, conv=fsync     (MiB/s)
#   read   dd the same file back in 1 MiB blocks    (MiB/s)
# Kernel command line: vmkit.fs_mb=MIB (default 256), vmkit.fs_copies=COPIES (default 2).
# Prints "FSB job=NAME secs=F [MIBS=F] [files=N]"; "BENCH-MARK JOB-start|JOB-end" around each
# job (L1 snapshots its KVM counters then; the pause after each mark keeps that outside).
mb=256 copies=2
for w in $(cat /proc/cmdline); do
    case $w in
    vmkit.fs_mb=*) mb=${w#*=} ;;
    vmkit.fs_copies=*) copies=${w#*=} ;;
    esac
done
m=/mnt/bench
mkdir -p $m
mount -t virtiofs bench $m || { echo "FSB-ERROR mount"; exit 1; }
[ -f /src.tar ] || { echo "FSB-ERROR no /src.tar"; exit 1; }
now() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "BENCH-MARK $1"; sleep 2; }
rc=0
job() {    # NAME COMMAND...: runs COMMAND timed between marks; sets secs and out
    n=$1; shift
    sync; echo 3 > /proc/sys/vm/drop_caches
    mark $n-start
    t0=$(now)
    out=$("$@" 2>/tmp/fsb.err) || { echo "FSB-ERROR job=$n $(head -c 300 /tmp/fsb.err | tr '\n' ' ')"; rc=1; }
    t1=$(now)
    mark $n-end
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}
untar() { i=1; while [ $i -le $copies ]; do mkdir $m/t$i && tar -xf /src.tar -C $m/t$i || return 1; i=$((i + 1)); done; sync; }
trees() { i=1; while [ $i -le $copies ]; do echo $m/t$i; i=$((i + 1)); done; }
findall() { find $(trees) | wc -l; }
statall() { find $(trees) | xargs stat -c '%s %Y %a' | wc -l; }
rmall() { rm -rf $(trees); }
mbps() { awk -v s="$1" -v m="$mb" 'BEGIN { printf "%.1f", (s > 0 ? m / s : 0) }'; }

rm -rf $m/t* $m/big
job untar untar;   echo "FSB job=untar secs=$secs files=$(tar -tf /src.tar | wc -l)"
job find findall;  echo "FSB job=find secs=$secs files=$out"
job stat statall;  echo "FSB job=stat secs=$secs files=$out"
job rm rmall;      echo "FSB job=rm secs=$secs"
job write dd if=/dev/zero of=$m/big bs=1M count=$mb conv=fsync
echo "FSB job=write secs=$secs MIBS=$(mbps $secs)"
job read dd if=$m/big of=/dev/null bs=1M
echo "FSB job=read secs=$secs MIBS=$(mbps $secs)"
rm -f $m/big
umount $m
echo "FSB-DONE"
exit $rc
