#!/bin/sh
# The block device identifier the host set, as the guest sees it.
echo "BLK-SERIAL=$(cat /sys/block/vda/serial 2>/dev/null)"
echo "BLK-SIZE=$(cat /sys/block/vda/size)"
echo "BLK-QUEUES=$(ls /sys/block/vda/mq | wc -l)"
