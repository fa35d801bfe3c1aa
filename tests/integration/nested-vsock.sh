#!/usr/bin/env bash
# Nested tier, virtio-vsock: the real Debian kernel's vsock driver and socat in the guest,
# socat on the host side (L1), through the vmkit CLI's vfkit grammar. The guest says
# "Ready" on port 1025 (as podman's guests do), sends a file to a host sink and to a host
# sink that waits before reading (credit flow control must hold the guest back, nothing
# lost), listens on port 2000 for a file the host sends into it, and is reset when it
# connects to a port nobody forwards. Checked by md5 on both sides.
# One L1 run of its own; VMK_DIRECT=1 runs the same script on this host.
# usage: nested-vsock.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-vsock-guest-build; exit 0; }
GD=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)
SOCAT=$(command -v socat) || { t_fail nested-vsock-socat "socat is not installed (scripts/deps.sh)"; exit 0; }

# The host's socat with its libraries and the ELF interpreter, as an archive the L1 script
# appends to the guest's initramfs.
work=$(mktemp -d /tmp/vmkit-vsock.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/o/bin"
cp -L "$SOCAT" "$work/o/bin/socat"
ldd "$SOCAT" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' |
    while read -r lib; do mkdir -p "$work/o$(dirname "$lib")"; cp -L "$lib" "$work/o$lib"; done
(cd "$work/o" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$work/socat.cpio.gz"
MB=${VMK_VSOCK_MB:-8}

l1=$work/l1.sh
cat >"$l1" <<L1
MB=$MB
L1
cat >>"$l1" <<'L1'
K=$GUEST_KERNEL; I=$GUEST_INITRD
C="console=ttyS0 panic=-1 quiet"
run() { name=$1; shift; echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; }
VI=/tmp/initrd-vsock.cpio.gz
cat "$I" "$GUEST_DATA/socat.cpio.gz" >$VI
vsock() {
    d=$(mktemp -d)
    socat -u UNIX-LISTEN:$d/ready.sock - >$d/ready.out &
    socat -u UNIX-LISTEN:$d/sink.sock CREATE:$d/g2h.bin &
    # Reads nothing for 5 s: the guest must wait on credit, then everything arrives.
    socat -u UNIX-LISTEN:$d/slow.sock SYSTEM:"sleep 5; cat >$d/slow.bin" &
    head -c $((MB * 1048576)) /dev/urandom >$d/h2g.bin
    echo "HOST-H2G-MD5=$(md5sum <$d/h2g.bin | cut -d' ' -f1)"
    o=$d/vm.log
    vmkit --memory 256 --bootloader "linux,kernel=$K,initrd=$VI,cmdline=\"$C vmkit.test=vsock vmkit.vsock_mb=$MB\"" \
        --device serial,stdio --device "virtio-vsock,port=1025,socketURL=$d/ready.sock" \
        --device "virtio-vsock,port=1026,socketURL=$d/sink.sock,listen" \
        --device "virtio-vsock,port=1027,socketURL=$d/slow.sock,listen" \
        --device "virtio-vsock,port=2000,socketURL=$d/in.sock,connect" >$o 2>&1 &
    vp=$!
    i=0
    until grep -q VSOCK-LISTENING $o; do
        i=$((i + 1)); [ $i -lt 600 ] && kill -0 $vp 2>/dev/null || break
        sleep 1
    done
    [ -S $d/in.sock ] && echo "HOST-IN-SOCKET=present"
    socat -u OPEN:$d/h2g.bin UNIX-CONNECT:$d/in.sock && echo "HOST-SENT=ok"
    wait $vp; rc=$?
    cat $o
    echo "HOST-READY=$(cat $d/ready.out)"
    echo "HOST-G2H-MD5=$(md5sum <$d/g2h.bin | cut -d' ' -f1)"
    echo "HOST-SLOW-MD5=$(md5sum <$d/slow.bin | cut -d' ' -f1)"
    [ -e $d/in.sock ] || echo "HOST-IN-SOCKET=removed"
    rm -rf $d
    return $rc
}
run vsock vsock
exit 0
L1

log="$VMK_LOGDIR/nested-vsock-l1.log"
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$PATH" GUEST_KERNEL=$GD/vmlinuz GUEST_INITRD=$GD/initrd.cpio.gz GUEST_DATA=$work \
        sh "$l1" </dev/null >"$log" 2>&1
else
    "$ROOT/tests/nested/run-l1.sh" --timeout 1200 --retries 1 "$l1" "$BUILD/vmkit" "$SOCAT" \
        "$work/socat.cpio.gz" </dev/null >"$log" 2>&1
fi
rc=$?
[ $rc -eq 0 ] && t_pass nested-vsock-rig || t_fail nested-vsock-rig "run-l1 exit $rc (log $log)"
check vsock "VMKIT-TEST-EXIT=0" "VSOCK-SENT" "HOST-IN-SOCKET=present" "HOST-SENT=ok" "HOST-READY=Ready" \
    "VSOCK-RST=Connection reset by peer" "HOST-IN-SOCKET=removed" &&
    same_values vsock G2H-MD5 HOST-G2H-MD5 && same_values vsock SLOW-MD5 HOST-SLOW-MD5 &&
    same_values vsock H2G-MD5 HOST-H2G-MD5
exit 0
