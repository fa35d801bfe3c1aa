#!/bin/sh
# Prints MemFree, asks the host to inflate the balloon, and prints MemFree
# once it has dropped by at least 230 MiB (with DEFLATE_ON_OOM Linux leaves
# MemTotal alone: ballooned pages count as allocated, not as removed).
# Touch 200 MiB and free it again, so the host has real pages to take back.
mkdir -p /fill && mount -t tmpfs -o size=300m tmpfs /fill
dd if=/dev/zero of=/fill/f bs=1M count=200 2>/dev/null
rm /fill/f && umount /fill
t1=$(grep MemFree /proc/meminfo | tr -s ' ' | cut -d' ' -f2)
echo "BALLOON-MEM-1=$t1"
echo "BALLOON-WAIT"
i=0
while [ $i -lt 600 ]; do
    t2=$(grep MemFree /proc/meminfo | tr -s ' ' | cut -d' ' -f2)
    [ $((t1 - t2)) -ge 235520 ] && break
    sleep 0.1; i=$((i + 1))
done
echo "BALLOON-MEM-2=$t2"
sleep 3
echo "BALLOON-DONE"
