#!/usr/bin/env bash
# Nested tier, virtio-fs: the real Debian kernel's virtiofs driver mounts directories that
# vmkit shares from L1, through the CLI's vfkit grammar: data both ways (md5 on both sides),
# the common file operations, a 10,000-file listing, links that point out of the share,
# device nodes, read-only shares, several directories under one tag, a change made on the
# host while the guest runs. Twice: vmkit as an unprivileged user (how podman machine and
# desktop applications run it) and as root.
# One L1 run of its own; VMK_DIRECT=1 runs the same script on this host.
# usage: nested-fs.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-fs-guest-build; exit 0; }
GD=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)
SETPRIV=$(command -v setpriv) || { t_fail nested-fs-setpriv "setpriv (util-linux) is not installed"; exit 0; }

work=$(mktemp -d /tmp/vmkit-fs.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Under its own name: L1's busybox has a setpriv applet without --reuid.
cp "$SETPRIV" "$work/vmk-setpriv"
l1=$work/l1.sh
cat >"$l1" <<'L1'
K=$GUEST_KERNEL; I=$GUEST_INITRD
C="console=ttyS0 panic=-1 quiet"
run() { name=$1; shift; echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; }
fs() {
    d=$(mktemp -d /tmp/fs.XXXXXX)
    chmod 755 $d
    S=$d/share
    mkdir -p $S/rw/many $S/ro $d/m1 $d/m2
    echo HOST-SECRET >$S/secret.txt
    ln -s /tmp/fs-secret/secret.txt $S/rw/esc-abs
    ln -s ../secret.txt $S/rw/esc-rel
    ln -s .. $S/rw/esc-dir
    mkdir -p /tmp/fs-secret && cp $S/secret.txt /tmp/fs-secret/
    head -c 8388608 /dev/urandom >$S/rw/host.bin
    echo "HOST-READ-MD5=$(md5sum <$S/rw/host.bin | cut -d' ' -f1)"
    (cd $S/rw/many && seq 1 10000 | xargs touch)
    echo host-change-1 >$S/rw/changed.txt
    echo ro-file >$S/ro/file
    echo multi-one >$d/m1/f
    # A descriptor per inode the guest caches: give vmkit the limit a systemd host gives a
    # user session (hard 524288), not busybox init's 4096.
    ulimit -n 524288
    as=""
    if [ "$1" = nobody ]; then
        chown -R 65534:65534 $d
        chmod 666 /dev/kvm
        as="vmk-setpriv --reuid=65534 --regid=65534 --clear-groups"
    fi
    o=$d/vm.log
    # The guest's console streams to L1's (so a stall shows where it stopped) and to $o.
    ( $as vmkit --memory 512 --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=virtiofs\"" \
        --device serial,stdio \
        --device "virtio-fs,sharedDir=$S/rw,mountTag=rw" \
        --device "virtio-fs,sharedDir=$S/ro,mountTag=ro,readonly" \
        --device "virtio-fs,sharedDir=$d/m1,mountTag=multi,name=one" \
        --device "virtio-fs,sharedDir=$d/m2,mountTag=multi,name=two,readonly"; echo $? >$d/rc ) 2>&1 | tee $o &
    vp=$!
    i=0
    until grep -q FS-WAIT-HOST $o; do
        i=$((i + 1)); [ $i -lt 900 ] && kill -0 $vp 2>/dev/null || break
        sleep 1
    done
    echo host-change-2 >$S/rw/changed.txt
    wait $vp; rc=$(cat $d/rc)
    echo "HOST-GUEST-MD5=$(md5sum <$S/rw/guest.bin | cut -d' ' -f1)"
    [ -e $S/rw/null ] && echo "HOST-MKNOD=present" || echo "HOST-MKNOD=absent"
    echo "HOST-OWNER=$(stat -c %u $S/rw/guest.bin)"
    echo "HOST-MULTI-NEW=$(cat $d/m1/new)"
    [ -e $d/m2/new ] || echo "HOST-RO-UNTOUCHED=yes"
    rm -rf $d /tmp/fs-secret
    return $rc
}
run fs-nobody fs nobody
run fs-root fs root
exit 0
L1

log="$VMK_LOGDIR/nested-fs-l1.log"
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$PATH" GUEST_KERNEL=$GD/vmlinuz GUEST_INITRD=$GD/initrd.cpio.gz \
        sh "$l1" </dev/null >"$log" 2>&1
else
    "$ROOT/tests/nested/run-l1.sh" --timeout 1500 --retries 1 "$l1" "$BUILD/vmkit" "$work/vmk-setpriv" \
        </dev/null >"$log" 2>&1
fi
rc=$?
[ $rc -eq 0 ] && t_pass nested-fs-rig || t_fail nested-fs-rig "run-l1 exit $rc (log $log)"
for who in nobody root; do
    n=fs-$who
    uid=0; [ $who = nobody ] && uid=65534
    check $n "VMKIT-TEST-EXIT=0" "FS-MOUNT=ok" "FS-OPS=ok" "FS-MANY=10000" "FS-FIND=10000" \
        "FS-ESCAPE-esc-abs=contained" "FS-ESCAPE-esc-rel=contained" "FS-ESCAPE-esc-dir=contained" \
        "FS-DOTDOT=contained" "FS-MKNOD=refused" "HOST-MKNOD=absent" "FS-FIFO=ok" "FS-RO-READ=ok" \
        "FS-RO-CREATE=Read-only file system" "FS-RO-RM=Read-only file system" \
        "FS-RO-WRITE=Read-only file system" "FS-MULTI-LS=one two " "FS-MULTI-ONE=multi-one" \
        "FS-MULTI-ONE-WRITE=ok" "HOST-MULTI-NEW=hi" "FS-MULTI-TWO-CREATE=Read-only file system" \
        "HOST-RO-UNTOUCHED=yes" "FS-HOST-CHANGE=host-change-2" "FS-UID=$uid" "HOST-OWNER=$uid" \
        "FS-UMOUNT=ok" &&
        same_values $n GUEST-READ-MD5 HOST-READ-MD5 && same_values $n GUEST-WROTE-MD5 HOST-GUEST-MD5 &&
        same_values $n GUEST-REREAD-MD5 GUEST-WROTE-MD5
done
exit 0
