#!/bin/sh
# An ISO 9660 image on a read-only disk (the guest's "DVD"): mount it and
# print the md5 of the file the host put in it.
echo "ISO-RO=$(cat /sys/block/vda/ro)"
mkdir -p /mnt
if ! mount -t iso9660 -o ro /dev/vda /mnt; then
    echo "ISO-MOUNT=failed"
    exit 1
fi
echo "ISO-MOUNT=ok"
echo "ISO-LABEL=$(dd if=/dev/vda bs=1 skip=32808 count=32 2>/dev/null | tr -d ' ')"
ls /mnt
echo "ISO-MD5=$(md5sum </mnt/vmkit/data.bin | cut -d' ' -f1)"
umount /mnt
