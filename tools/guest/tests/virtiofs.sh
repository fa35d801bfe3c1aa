#!/bin/sh
# virtio-fs (tests/integration/nested-fs.sh): the host (L1) shares rw/ (tag "rw"),
# ro/ read-only (tag "ro") and two directories under one tag ("multi": one/ read-write,
# two/ read-only), and plants links that point out of the share. Every line the host
# checks is KEY=value; md5 sums are compared with the host's own.
fail() { echo "FS-FAIL=$1"; }
mkdir -p /mnt/rw /mnt/ro /mnt/multi
mount -t virtiofs rw /mnt/rw || { echo "FS-MOUNT=failed"; exit 1; }
mount -t virtiofs ro /mnt/ro || { echo "FS-MOUNT-RO=failed"; exit 1; }
mount -t virtiofs multi /mnt/multi || { echo "FS-MOUNT-MULTI=failed"; exit 1; }
echo "FS-MOUNT=ok"
# Read what the host wrote, write a file the host checks.
echo "GUEST-READ-MD5=$(md5sum </mnt/rw/host.bin | cut -d' ' -f1)"
dd if=/dev/urandom of=/tmp/g.bin bs=1M count=8 2>/dev/null
cp /tmp/g.bin /mnt/rw/guest.bin && sync
echo "GUEST-WROTE-MD5=$(md5sum </tmp/g.bin | cut -d' ' -f1)"
echo "GUEST-REREAD-MD5=$(md5sum </mnt/rw/guest.bin | cut -d' ' -f1)"
# Names: a directory tree, rename, hard link, symlink, unlink, rmdir, truncate, append.
mkdir -p /mnt/rw/d1/d2 && echo one >/mnt/rw/d1/d2/f && mv /mnt/rw/d1/d2/f /mnt/rw/d1/g &&
    ln /mnt/rw/d1/g /mnt/rw/d1/h && ln -s g /mnt/rw/d1/s && echo two >>/mnt/rw/d1/s &&
    [ "$(cat /mnt/rw/d1/h)" = "one
two" ] && [ "$(stat -c %h /mnt/rw/d1/g)" = 2 ] && rm /mnt/rw/d1/h && rmdir /mnt/rw/d1/d2 &&
    truncate -s 3 /mnt/rw/d1/g && [ "$(cat /mnt/rw/d1/g)" = one ] && chmod 640 /mnt/rw/d1/g &&
    [ "$(stat -c %a /mnt/rw/d1/g)" = 640 ] && echo "FS-OPS=ok" || fail ops
# A listing of 10,000 files the host made.
echo "FS-MANY=$(ls /mnt/rw/many | wc -l)"
echo "FS-FIND=$(find /mnt/rw/many -type f | wc -l)"
# Links planted by the host that point out of the share resolve in the guest, never on
# the host: neither shows the host's secret.
for l in esc-abs esc-rel esc-dir; do
    if cat /mnt/rw/$l /mnt/rw/$l/secret.txt 2>/dev/null | grep -q HOST-SECRET; then
        echo "FS-ESCAPE-$l=leaked"
    else
        echo "FS-ESCAPE-$l=contained"
    fi
done
ls /mnt/rw/.. >/dev/null 2>&1 && ! ls /mnt/rw/.. | grep -q secret.txt && echo "FS-DOTDOT=contained"
# Device nodes are not made on the host.
mknod /mnt/rw/null c 1 3 2>/tmp/mknod.err && echo "FS-MKNOD=made" ||
    echo "FS-MKNOD=refused"
mkfifo /mnt/rw/fifo && [ -p /mnt/rw/fifo ] && echo "FS-FIFO=ok"
# Read-only shares refuse every change.
cat /mnt/ro/file >/dev/null && echo "FS-RO-READ=ok"
echo x 2>/tmp/ro.err >/mnt/ro/new
echo "FS-RO-CREATE=$(grep -o 'Read-only file system' /tmp/ro.err | head -1)"
rm /mnt/ro/file 2>/tmp/ro.err
echo "FS-RO-RM=$(grep -o 'Read-only file system' /tmp/ro.err | head -1)"
echo x 2>/tmp/ro.err >>/mnt/ro/file
echo "FS-RO-WRITE=$(grep -o 'Read-only file system' /tmp/ro.err | head -1)"
# Several directories under one tag.
echo "FS-MULTI-LS=$(ls /mnt/multi | tr '\n' ' ')"
echo "FS-MULTI-ONE=$(cat /mnt/multi/one/f)"
echo hi >/mnt/multi/one/new && echo "FS-MULTI-ONE-WRITE=ok"
echo x 2>/tmp/ro.err >/mnt/multi/two/new
echo "FS-MULTI-TWO-CREATE=$(grep -o 'Read-only file system' /tmp/ro.err | head -1)"
mkdir /mnt/multi/three 2>/tmp/ro.err
echo "FS-MULTI-ROOT-MKDIR=$(grep -o 'Read-only file system\|Permission denied' /tmp/ro.err | head -1)"
# A change made on the host shows within a few seconds (1 s attribute cache).
echo "FS-WAIT-HOST"
i=0
while [ $i -lt 30 ]; do
    [ "$(cat /mnt/rw/changed.txt 2>/dev/null)" = "host-change-2" ] && break
    i=$((i + 1)); sleep 1
done
echo "FS-HOST-CHANGE=$(cat /mnt/rw/changed.txt 2>/dev/null)"
echo "FS-UID=$(stat -c %u /mnt/rw/guest.bin)"
umount /mnt/multi /mnt/ro /mnt/rw && echo "FS-UMOUNT=ok"
