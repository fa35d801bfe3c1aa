#!/bin/sh
# Guest side of bench/storage.sh: installed as /tests/fio.sh in the fio variant of the test
# guest's initrd and run with `vmkit.test=fio`. Measures the first virtio-blk disk (/dev/vda)
# with fio (Debian's binary, ioengine=libaio, direct=1, time-based) and prints one line a job:
#   FIO <job> IOPS=<n> BW_KIBS=<KiB/s> LAT_US=<mean total latency, us> ERR=<fio error>
# Kernel command line: vmkit.fio_runtime=SEC (default 5), vmkit.fio_ramp=SEC (default 1),
# vmkit.fio_jobs=a,b,... (default all four: randread-qd1,randread-qd32,seqread,seqwrite).
# The jobs write to the disk (seqwrite): give it a scratch image.
rt=5 ramp=1 jobs=randread-qd1,randread-qd32,seqread,seqwrite
for w in $(cat /proc/cmdline); do
    case $w in
    vmkit.fio_runtime=*) rt=${w#*=} ;;
    vmkit.fio_ramp=*) ramp=${w#*=} ;;
    vmkit.fio_jobs=*) jobs=${w#*=} ;;
    esac
done
dev=/dev/vda
[ -b $dev ] || { echo "FIO-ERROR no $dev"; ls /sys/block; exit 1; }
command -v fio >/dev/null || { echo "FIO-ERROR no fio in this initrd"; exit 1; }
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
echo "FIO-DISK $dev $(cat /sys/block/vda/size) sectors, scheduler $(cat /sys/block/vda/queue/scheduler 2>/dev/null)"

rc=0
# job NAME FIO-ARGS...: terse v3 fields: 5 error; read 7 KiB/s, 8 IOPS, 40 lat mean (us);
# write 48 KiB/s, 49 IOPS, 81 lat mean (us).
job() {
    name=$1; shift
    out=$(fio --name="$name" --filename=$dev --direct=1 --ioengine=libaio --time_based \
              --runtime="$rt" --ramp_time="$ramp" --norandommap --randrepeat=0 \
              --output-format=terse --terse-version=3 "$@" 2>/tmp/fio.err)
    line=$(echo "$out" | grep '^3;' | tail -n 1)
    if [ -z "$line" ]; then
        echo "FIO-ERROR $name: $(head -c 400 /tmp/fio.err | tr '\n' ' ')"
        rc=1
        return
    fi
    echo "$line" | awk -F';' -v n="$name" '{
        r = $7 + $8; w = $48 + $49
        if (w > r) printf "FIO %s IOPS=%s BW_KIBS=%s LAT_US=%s ERR=%s\n", n, $49, $48, $81, $5
        else       printf "FIO %s IOPS=%s BW_KIBS=%s LAT_US=%s ERR=%s\n", n, $8, $7, $40, $5 }'
}
for j in $(echo "$jobs" | tr ',' ' '); do
    case $j in
    randread-qd1)  job $j --rw=randread --bs=4k --iodepth=1 ;;
    randread-qd32) job $j --rw=randread --bs=4k --iodepth=32 ;;
    seqread)       job $j --rw=read --bs=1M --iodepth=8 ;;
    seqwrite)      job $j --rw=write --bs=1M --iodepth=8 ;;
    *) echo "FIO-ERROR unknown job $j"; rc=1 ;;
    esac
done
echo "FIO-DONE"
exit $rc
