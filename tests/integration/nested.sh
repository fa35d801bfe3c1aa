#!/usr/bin/env bash
# Nested tier: the real Debian kernel booted by vmkit inside L1 (a KVM host
# emulated by QEMU, see tests/nested/run-l1.sh), through the public API
# (vmkit-api-test) and the CLI. On a host whose KVM runs stock guests the
# same L1 script runs directly (VMK_DIRECT=1 forces it).
# usage: nested.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-guest-build; exit 0; }
GD=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)

# The script L1 runs. Each test's output is fenced so the host can judge it.
l1=$(mktemp /tmp/vmkit-l1.XXXXXX.sh)
cat >"$l1" <<'L1'
K=$GUEST_KERNEL; I=$GUEST_INITRD
C="console=ttyS0 panic=-1 quiet"
run() { name=$1; shift; echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; }
api() { vmkit-api-test --kernel "$K" --initrd "$I" --timeout 120 "$@"; }
run boot-marker api --memory 256 --cmdline "$C vmkit.test=poweroff" --on VMKIT-GUEST-READY=pause-resume
for n in 1 2 4; do run cpus-$n api --cpus $n --memory 256 --cmdline "$C vmkit.test=cpus"; done
run meminfo-512 api --memory 512 --cmdline "$C vmkit.test=meminfo"
run meminfo-1536 api --memory 1536 --cmdline "$C vmkit.test=meminfo"
run clock api --memory 256 --cmdline "$C vmkit.test=clock"
run dmi api --memory 256 --uuid 0badc0de-1234-4abc-8def-0123456789ab --cmdline "$C vmkit.test=dmi"
run request-stop api --memory 256 --cmdline "$C vmkit.test=sleep" --on SLEEPING=request-stop
run host-stop api --memory 256 --cmdline "$C vmkit.test=sleep" --on SLEEPING=stop --expect host-stop
run guest-poweroff api --memory 256 --cmdline "$C vmkit.test=poweroff"
run guest-reboot-stop api --memory 256 --reboot stop --cmdline "$C vmkit.test=reboot" --expect guest-reboot
run guest-reboot-restart api --memory 256 --cmdline "$C vmkit.test=reboot" --stop-after-reboots 1 --expect host-stop --expect-reboots 1
# The project's test guest on real KVM semantics too (some PVM quirks hide here).
T=/data/vmkit-testguest.bzimage
tg() { vmkit-api-test --kernel "$T" --timeout 60 "$@"; }
run tg-powerbutton tg --memory 64 --cmdline "vmkit.t=powerbutton" --on "TAP ok armed=request-stop"
run tg-smp-4 tg --cpus 4 --memory 64 --cmdline "vmkit.t=smp cpus=4"
run tg-acpi-2 tg --cpus 2 --memory 64 --cmdline "vmkit.t=acpi cpus=2"
run tg-uart tg --memory 64 --cmdline "vmkit.t=uart"
run tg-pause tg --memory 64 --cmdline "vmkit.t=pause ticks=6" --on "tick 2=pause-resume"
# virtio devices on the real kernel's drivers. Images live on a tmpfs of
# their own (punching holes needs a file system that supports it).
mkdir -p /scratch && mount -t tmpfs -o size=1200m tmpfs /scratch
S=/scratch
run rng api --memory 256 --entropy 1 --cmdline "$C vmkit.test=rng"
run pci api --memory 256 --entropy 1 --balloon 1 --disk "$GUEST_DATA/empty.img" --cmdline "$C vmkit.test=pci"
blk_write() {
    /bin/mke2fs -q -t ext4 -F $S/ext4.img 128M && api --memory 256 --disk $S/ext4.img --cmdline "$C vmkit.test=blk-write"
    /bin/debugfs -R "dump /big $S/big.out" $S/ext4.img 2>/dev/null
    echo "HOST-MD5=$(md5sum <$S/big.out | cut -d' ' -f1)"
}
run blk-write blk_write
blk_ro() {
    dd if=/dev/urandom of=$S/ro.img bs=1M count=8 2>/dev/null
    echo "HOST-BEFORE=$(md5sum <$S/ro.img | cut -d' ' -f1)"
    api --memory 256 --disk $S/ro.img,ro --cmdline "$C vmkit.test=blk-ro"
    echo "HOST-AFTER=$(md5sum <$S/ro.img | cut -d' ' -f1)"
}
run blk-ro blk_ro
blk_fsync() {
    dd if=/dev/zero of=$S/f.img bs=1M count=8 2>/dev/null
    api --memory 256 --disk $S/f.img,sync=full --cmdline "$C vmkit.test=blk-fsync" --on FSYNC-DONE=kill
    echo "VMM-RC=$?"
    echo "HOST-PATTERN=$(head -c 1048576 $S/f.img | md5sum | cut -d' ' -f1)"
    echo "WANT-PATTERN=$(yes vmkit-fsync-pattern | head -c 1048576 | md5sum | cut -d' ' -f1)"
}
run blk-fsync blk_fsync
blk_media() {
    { printf 'MEDIA-A-HEADER..'; dd if=/dev/zero bs=1M count=8 2>/dev/null; } | head -c 8388608 >$S/a.img
    { printf 'MEDIA-B-HEADER..'; dd if=/dev/zero bs=1M count=16 2>/dev/null; } | head -c 16777216 >$S/b.img
    api --memory 256 --disk $S/a.img --cmdline "$C vmkit.test=blk-media" --on MEDIA-WAIT=media:$S/b.img
}
run blk-media blk_media
blk_discard() {
    dd if=/dev/urandom of=$S/d.img bs=1M count=32 2>/dev/null
    echo "HOST-KB-BEFORE=$(du -k $S/d.img | cut -f1)"
    api --memory 256 --disk $S/d.img --cmdline "$C vmkit.test=blk-discard"
    echo "HOST-KB-AFTER=$(du -k $S/d.img | cut -f1)"
}
run blk-discard blk_discard
# An ISO 9660 image (built on the host, see below) as a read-only disk: the guest's "DVD".
iso() {
    echo "HOST-ISO-BEFORE=$(md5sum <$GUEST_DATA/vmkit.iso | cut -d' ' -f1)"
    api --memory 256 --disk "$GUEST_DATA/vmkit.iso,ro" --cmdline "$C vmkit.test=iso"
    echo "HOST-ISO-AFTER=$(md5sum <$GUEST_DATA/vmkit.iso | cut -d' ' -f1)"
}
run iso iso
run blk-id api --memory 256 --cpus 2 --disk "$GUEST_DATA/empty.img,id=vmkit-disk-0001,queues=2" --cmdline "$C vmkit.test=blk-id"
run cli-virtio vmkit --memory 256 --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=blk-id\"" \
    --device serial,stdio --device "virtio-blk,path=$GUEST_DATA/empty.img,deviceId=cli-disk" --device virtio-rng
run hvc0 api --memory 256 --console virtio --cmdline "console=ttyS0 panic=-1 vmkit.console=hvc0" \
    --send-after 'VMKIT-GUEST-READY=echo HVC-$((6*7))' --send-after 'HVC-42=poweroff'
run balloon api --memory 512 --balloon 1 --cmdline "$C vmkit.test=balloon" --on BALLOON-WAIT=rss \
    --on BALLOON-WAIT=balloon:256 --on BALLOON-DONE=rss --on BALLOON-DONE=stats
umount /scratch
# NAT (libslirp): DHCP and a download from L1's loopback through the gateway;
# port forwards from L1 into the guest (on a non-default subnet).
ip link set lo up
nat_http() {
    w=$(mktemp -d); head -c 2000000 /dev/urandom >"$w/data.bin"
    echo "HOST-MD5=$(md5sum <"$w/data.bin" | cut -d' ' -f1)"
    busybox httpd -f -p 127.0.0.1:18080 -h "$w" & hp=$!
    vmkit --memory 256 --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=nat-http\"" \
        --device serial,stdio --device virtio-net,nat
    rc=$?; kill $hp; rm -rf "$w"; return $rc
}
run nat-http nat_http
nat_fwd() {
    o=$(mktemp)
    timeout 120 vmkit --memory 256 --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=nat-fwd\"" \
        --device serial,stdio \
        --device "virtio-net,nat,subnet=10.9.0.0/24,hostfwd=tcp:127.0.0.1:18081-:80,hostfwd=tcp::18082-:81" >"$o" 2>&1 &
    vp=$!
    for i in $(seq 90); do grep -q NAT-SERVER-UP "$o" && break; sleep 1; done
    echo "HOST-GOT=$(busybox wget -q -O - http://127.0.0.1:18081/page.txt)"
    echo fetched | busybox nc 127.0.0.1 18082
    wait $vp; rc=$?; cat "$o"; rm -f "$o"; return $rc
}
run nat-fwd nat_fwd
run cli-cpus vmkit --cpus 2 --memory 256 --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=cpus\"" --device serial,stdio
exit 0
L1

log="$VMK_LOGDIR/nested.log"
# Data files for L1's /data ($GUEST_DATA): an empty disk and an ISO 9660 image
# holding a file of known content (xorriso, scripts/deps.sh).
tg=$(mktemp -d /tmp/vmkit-tg.XXXXXX)
truncate -s 4M "$tg/empty.img"
mkdir -p "$tg/isodir/vmkit"
yes vmkit-iso-content | head -c 1000000 >"$tg/isodir/vmkit/data.bin"
iso_md5=$(md5sum <"$tg/isodir/vmkit/data.bin" | cut -d' ' -f1)
if xorriso -as mkisofs -R -o "$tg/vmkit.iso" -V VMKITISO "$tg/isodir" >"$VMK_LOGDIR/nested-iso-build.log" 2>&1; then
    chmod 0644 "$tg/vmkit.iso"
else
    t_fail nested-iso-build "xorriso failed (log $VMK_LOGDIR/nested-iso-build.log)"
    truncate -s 1M "$tg/vmkit.iso"
fi
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    # The variables are for the shell that runs the script (L1 sets them itself); the
    # script is a file so that its commands' stdin is /dev/null, not the script.
    sed -i "s#/data/vmkit-testguest.bzimage#$BUILD/tests/direct/vmkit-testguest.bzimage#" "$l1"
    PATH="$BUILD:$BUILD/tests:$PATH" GUEST_KERNEL=$GD/vmlinuz GUEST_INITRD=$GD/initrd.cpio.gz \
        GUEST_DATA=$tg sh "$l1" </dev/null >"$log" 2>&1
else
    # A copy without the x bit, so the rig puts it in /data.
    install -m 0644 "$BUILD/tests/direct/vmkit-testguest.bzimage" "$tg/"
    "$ROOT/tests/nested/run-l1.sh" --timeout 1500 --retries 1 "$l1" "$BUILD/vmkit" "$BUILD/tests/vmkit-api-test" "$tg/vmkit-testguest.bzimage" \
        "$tg/empty.img" "$tg/vmkit.iso" "$(command -v mke2fs)" "$(command -v debugfs)" \
        </dev/null >"$log" 2>&1
fi
rc=$?
rm -rf "$l1" "${tg:-}"
[ $rc -eq 0 ] && t_pass nested-rig || t_fail nested-rig "run-l1 exit $rc (log $log)"


check boot-marker VMKIT-GUEST-READY "API state paused" "stop-reason guest-poweroff"
for n in 1 2 4; do check cpus-$n "^CPUS=$n" "VMKIT-TEST-EXIT=0"; done
for m in 512 1536; do
    f="$VMK_LOGDIR/nested-meminfo-$m.log"
    section meminfo-$m >"$f"
    kb=$(grep -Eo 'MemTotal: *[0-9]+' "$f" | grep -Eo '[0-9]+$')
    # MemTotal is RAM minus what the kernel keeps for itself: within 10%.
    if [ -n "$kb" ] && [ "$kb" -le $((m * 1024)) ] && [ "$kb" -ge $((m * 1024 * 90 / 100)) ]; then
        t_pass nested-meminfo-$m
    else
        t_fail nested-meminfo-$m "MemTotal ${kb:-?} kB for $m MiB"
    fi
done
f="$VMK_LOGDIR/nested-clock.log"; section clock >"$f"
g=$(grep -Eo '^CLOCK=[0-9]+' "$f" | cut -d= -f2); h=$(grep -Eo 'API host-clock [0-9]+' "$f" | awk '{print $3}')
if [ -n "$g" ] && [ -n "$h" ] && [ $((g - h)) -le 1 ] && [ $((h - g)) -le 1 ]; then
    t_pass nested-clock
else
    t_fail nested-clock "guest ${g:-?} host ${h:-?}"
fi
check dmi "DMI-VENDOR=vmkit" "DMI-PRODUCT=vmkit_Virtual_Machine" "DMI-UUID=0badc0de-1234-4abc-8def-0123456789ab" \
    "DMI-BIOS-VENDOR=vmkit" "VMKIT-TEST-EXIT=0"
check request-stop SLEEPING VMKIT-GUEST-POWER-BUTTON "stop-reason guest-poweroff"
check host-stop SLEEPING "stop-reason host-stop"
check guest-poweroff "stop-reason guest-poweroff"
check guest-reboot-stop "stop-reason guest-reboot"
check guest-reboot-restart "API did-reboot" "stop-reason host-stop"
check cli-cpus "^CPUS=2" "VMKIT-TEST-EXIT=0"
for t in tg-powerbutton tg-smp-4 tg-acpi-2 tg-uart tg-pause; do check $t "TAP done [1-9][0-9]* 0" "stop-reason guest-poweroff"; done

# virtio on the Debian kernel's drivers.
check rng "RNG-CURRENT=virtio_rng" "VMKIT-TEST-EXIT=0"
check pci "PCI 0000:00:00.0 0x8086:0x29c0" "0x1af4:0x1042 virtio-pci" "0x1af4:0x1044 virtio-pci" \
    "0x1af4:0x1045 virtio-pci" "PCI-MSI" "VMKIT-TEST-EXIT=0"
check blk-write "VMKIT-TEST-EXIT=0" && same_values blk-write BLK-MD5 HOST-MD5
check blk-ro "BLK-RO=1" "RO-WRITE=failed" "VMKIT-TEST-EXIT=0" && same_values blk-ro HOST-BEFORE HOST-AFTER
check blk-fsync "FSYNC-DONE" "API action kill" "VMM-RC=137" && same_values blk-fsync HOST-PATTERN WANT-PATTERN
check blk-media "MEDIA-SIZE-1=16384 MEDIA-HEAD-1=MEDIA-A-HEADER" "MEDIA-SIZE-2=32768 MEDIA-HEAD-2=MEDIA-B-HEADER" \
    "VMKIT-TEST-EXIT=0"
f="$VMK_LOGDIR/nested-blk-discard.log"; section blk-discard >"$f"
kb1=$(grep -Eo '^HOST-KB-BEFORE=[0-9]+' "$f" | cut -d= -f2); kb2=$(grep -Eo '^HOST-KB-AFTER=[0-9]+' "$f" | cut -d= -f2)
if grep -q "DISCARD-RC=0" "$f" && [ -n "$kb1" ] && [ -n "$kb2" ] && [ "$kb2" -lt $((kb1 / 4)) ]; then
    t_pass nested-blk-discard
else
    t_fail nested-blk-discard "image ${kb1:-?} KiB before, ${kb2:-?} KiB after"
fi
check iso "ISO-RO=1" "ISO-MOUNT=ok" "ISO-LABEL=VMKITISO" "ISO-MD5=$iso_md5" "VMKIT-TEST-EXIT=0" &&
    same_values iso HOST-ISO-BEFORE HOST-ISO-AFTER
check blk-id "BLK-SERIAL=vmkit-disk-0001" "BLK-SIZE=8192" "BLK-QUEUES=2" "VMKIT-TEST-EXIT=0"
check cli-virtio "BLK-SERIAL=cli-disk" "BLK-QUEUES=1" "VMKIT-TEST-EXIT=0"
check hvc0 "^HVC-42" "stop-reason guest-poweroff"
check nat-http "NAT-DHCP ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3" "VMKIT-TEST-EXIT=0" &&
    same_values nat-http NAT-MD5 HOST-MD5
check nat-fwd "NAT-DHCP ip=10.9.0.15 router=10.9.0.2" "NAT-HOST-SAID=fetched" "VMKIT-TEST-EXIT=0" &&
    same_values nat-fwd NAT-PAGE HOST-GOT
f="$VMK_LOGDIR/nested-balloon.log"; section balloon >"$f"
m1=$(grep -Eo '^BALLOON-MEM-1=[0-9]+' "$f" | cut -d= -f2); m2=$(grep -Eo '^BALLOON-MEM-2=[0-9]+' "$f" | cut -d= -f2)
r1=$(grep -Eo 'API VmRSS:[[:space:]]*[0-9]+' "$f" | head -1 | grep -Eo '[0-9]+$')
r2=$(grep -Eo 'API VmRSS:[[:space:]]*[0-9]+' "$f" | tail -1 | grep -Eo '[0-9]+$')
if [ -n "$m1" ] && [ -n "$m2" ] && [ $((m1 - m2)) -ge 200000 ]; then t_pass nested-balloon-guest-memory; else t_fail nested-balloon-guest-memory "MemFree ${m1:-?} -> ${m2:-?} kB"; fi
if [ -n "$r1" ] && [ -n "$r2" ] && [ $((r1 - r2)) -ge 100000 ]; then t_pass nested-balloon-host-rss; else t_fail nested-balloon-host-rss "VMM RSS ${r1:-?} -> ${r2:-?} kB"; fi
t_expect nested-balloon-stats "$f" "API balloon target=268435456 actual=268435456" "stop-reason guest-poweroff"
exit 0
