#!/bin/sh
# Writes a known 1 MiB pattern straight to the disk with fsync, says so, then
# waits to be killed: the host checks the pattern reached the image file.
yes vmkit-fsync-pattern | head -c 1048576 >/tmp/p
dd if=/tmp/p of=/dev/vda bs=65536 oflag=direct conv=fsync 2>/dev/null || exit 1
echo "FSYNC-DONE"
sleep 600
