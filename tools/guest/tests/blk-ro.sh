#!/bin/sh
# A read-only disk: the kernel knows it is read-only and a direct write fails.
echo "BLK-RO=$(cat /sys/block/vda/ro)"
if dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct 2>/dev/null; then
    echo "RO-WRITE=succeeded"
else
    echo "RO-WRITE=failed"
fi
echo "BLK-HEAD=$(dd if=/dev/vda bs=4096 count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
