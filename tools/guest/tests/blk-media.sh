#!/bin/sh
# Media change: prints the disk's size and first bytes, waits for the host to
# swap the media (a capacity change), then prints them again.
head16() { dd if=/dev/vda bs=4096 count=1 iflag=direct 2>/dev/null | head -c 16; }
s1=$(cat /sys/block/vda/size)
echo "MEDIA-SIZE-1=$s1 MEDIA-HEAD-1=$(head16)"
echo "MEDIA-WAIT"
i=0
while [ "$(cat /sys/block/vda/size)" = "$s1" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
echo "MEDIA-SIZE-2=$(cat /sys/block/vda/size) MEDIA-HEAD-2=$(head16)"
