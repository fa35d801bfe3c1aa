#!/bin/sh
# Mounts the ext4 disk /dev/vda, writes a 16 MiB file, syncs and prints its
# checksum; the host compares it with the file it finds in the image.
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || exit 1
dd if=/dev/urandom of=/mnt/big bs=1M count=16 2>/dev/null || exit 1
sync
echo "BLK-MD5=$(md5sum /mnt/big | cut -d' ' -f1)"
umount /mnt
