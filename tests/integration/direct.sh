#!/usr/bin/env bash
# Direct tier: the project's freestanding test guest (tests/direct) booted
# on this host's /dev/kvm through the public API (vmkit-api-test) and the
# CLI. The guest checks the machine from inside and prints TAP lines. On a
# host with no usable /dev/kvm the script runs itself inside L1 (below).
# What a user without /dev/kvm is told: tests/integration/kvm-access.sh.
# usage: direct.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
B=$(cd "${1:?build dir}" && pwd)
G=$B/tests/direct/vmkit-testguest.bzimage
API=$B/tests/vmkit-api-test
VMKIT=$B/vmkit

kind=$("$ROOT/scripts/kvm-kind.sh")
if [ "$kind" = none ] && [ -z "${VMK_IN_L1:-}" ]; then
    # No usable /dev/kvm on this host: this same script runs inside the emulated KVM host,
    # whose KVM is real, and its results come back here.
    exec bash "$ROOT/tests/nested/host-tier-in-l1.sh" "${BASH_SOURCE[0]}" "$B"
fi
if [ ! -c /dev/kvm ]; then
    t_fail direct-kvm "/dev/kvm is missing in L1: the direct tier cannot run"
    exit 0
fi

# guest NAME [api options...] -- CMDLINE: boots the test guest, judges its TAP output.
guest() {
    local name=$1; shift
    local log="$VMK_LOGDIR/direct-$name.log"
    timeout 120 "$API" --kernel "$G" --timeout 60 "$@" >"$log" 2>&1
    echo "rc=$?" >>"$log"
}
tap_clean() {
    local name=$1 log="$VMK_LOGDIR/direct-$1.log"; shift
    t_expect "$name" "$log" "TAP done [1-9][0-9]* 0" "^rc=0" "$@" && return 0
    grep -E "not ok|API (FAIL|error)" "$log" | head -5 | sed 's/^/    | /'
    return 1
}

# Boot protocol, with an initrd whose byte sum the guest checks.
initrd=$(mktemp /tmp/vmkit-initrd.XXXXXX)
head -c 300000 /dev/urandom >"$initrd"
sum=$(od -An -v -tu1 "$initrd" | awk '{for (i = 1; i <= NF; i++) s += $i} END {printf "%x", s % 4294967296}')
size=$(stat -c %s "$initrd")
for mem in 128 3072 5120; do
    guest boot-$mem --memory $mem --initrd "$initrd" \
        --cmdline "vmkit.t=boot mem=$mem echo=hello-$mem initrd_sum=$sum initrd_size=$size"
    tap_clean boot-$mem "TAP ok echo hello-$mem" "TAP ok initrd-checksum" "stop-reason guest-poweroff"
done
rm -f "$initrd"

for n in 1 2 4; do
    guest acpi-$n --cpus $n --cmdline "vmkit.t=acpi cpus=$n"
    tap_clean acpi-$n
    guest smp-$n --cpus $n --cmdline "vmkit.t=smp cpus=$n"
    tap_clean smp-$n
done
# SMBIOS in the BIOS area, as a direct-booted Linux finds it.
for shape in "2 3072" "4 5120"; do
    set -- $shape
    guest smbios-$1 --cpus $1 --memory $2 --uuid 0badc0de-1234-4abc-8def-0123456789ab \
        --cmdline "vmkit.t=smbios cpus=$1 mem=$2 uuid=0badc0de-1234-4abc-8def-0123456789ab"
    tap_clean smbios-$1 "TAP ok smbios-uuid" "TAP ok smbios-memory"
done
guest uart --cmdline "vmkit.t=uart"
tap_clean uart
guest rtc --memory 256 --cmdline "vmkit.t=rtc mem=256 now=$(date +%s)"
tap_clean rtc

# Lifecycle through the API.
# PVM's emulated LAPIC delivers a level-triggered SCI a second time after the
# guest quiets the source and EOIs (real KVM delivers it once), so on PVM this
# check runs in the nested tier (tests/integration/nested.sh, tg-powerbutton).
if [ "$kind" = hardware ]; then
    guest powerbutton --cmdline "vmkit.t=powerbutton" --on "TAP ok armed=request-stop"
    tap_clean powerbutton "stop-reason guest-poweroff"
else
    echo "# powerbutton: runs in the nested tier on PVM (see comment)"
fi
guest pause --cmdline "vmkit.t=pause ticks=12" --on "tick 3=pause-resume" --on "tick 6=pause-resume"
tap_clean pause "API state paused" "API state resuming" "stop-reason guest-poweroff"
guest poweroff --cmdline "vmkit.t=poweroff"
t_expect poweroff "$VMK_LOGDIR/direct-poweroff.log" "API did-stop guest-poweroff" "^rc=0"
guest host-stop --cmdline "vmkit.t=halt" --on "TAP ok halting=stop" --expect host-stop
t_expect host-stop "$VMK_LOGDIR/direct-host-stop.log" "API did-stop host-stop" "API state stopped" "^rc=0"
for m in cf9 kbd; do
    guest reset-$m-stop --reboot stop --cmdline "vmkit.t=reset method=$m" --expect guest-reboot
    t_expect reset-$m-stop "$VMK_LOGDIR/direct-reset-$m-stop.log" "TAP ok resetting" "API did-stop guest-reboot" "^rc=0"
done
guest reset-restart --cmdline "vmkit.t=reset method=cf9" --stop-after-reboots 2 --expect host-stop --expect-reboots 2
t_expect reset-restart "$VMK_LOGDIR/direct-reset-restart.log" "API did-reboot" "API did-stop host-stop" "^rc=0"
guest triple-fault --reboot stop --cmdline "vmkit.t=reset method=triple" --expect triple-fault
t_expect triple-fault "$VMK_LOGDIR/direct-triple-fault.log" "API did-stop-with-error triple-fault" "API state error" "^rc=0"

# The CLI: exit status 0 on guest poweroff, signals become power button / hard stop.
log=$VMK_LOGDIR/direct-cli-poweroff.log
timeout 60 "$VMKIT" --cpus 2 --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=acpi cpus=2\"" \
    --device serial,stdio </dev/null >"$log" 2>&1
echo "rc=$?" >>"$log"
t_expect cli-poweroff "$log" "TAP done [1-9][0-9]* 0" "^rc=0$"

log=$VMK_LOGDIR/direct-cli-sigterm.log
pid=$VMK_LOGDIR/vmkit.pid
rm -f "$pid"
( timeout 60 "$VMKIT" --pidfile "$pid" --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=powerbutton\"" \
    --device serial,stdio </dev/null >"$log" 2>&1; echo "rc=$?" >>"$log" ) &
bg=$!
for _ in $(seq 100); do grep -q "TAP ok armed" "$log" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$(cat "$pid")"
wait $bg
t_expect cli-sigterm-powerbutton "$log" "TAP ok pwrbtn-sts" "^rc=0$"

log=$VMK_LOGDIR/direct-cli-sigterm2.log
rm -f "$pid"
( timeout 60 "$VMKIT" --pidfile "$pid" --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=halt\"" \
    --device serial,stdio </dev/null >"$log" 2>&1; echo "rc=$?" >>"$log" ) &
bg=$!
for _ in $(seq 100); do grep -q "TAP ok halting" "$log" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$(cat "$pid")"; sleep 0.5; kill -TERM "$(cat "$pid")"
wait $bg
t_expect cli-sigterm-twice-stops "$log" "TAP ok halting" "^rc=0$"

# One SIGTERM to a guest that ignores the power button: stopped after vfkit's 5 s, exit 0.
log=$VMK_LOGDIR/direct-cli-sigterm-grace.log
rm -f "$pid"
( timeout -k 5 60 "$VMKIT" --pidfile "$pid" --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=halt\"" \
    --device serial,stdio </dev/null >"$log" 2>&1; echo "rc=$?" >>"$log" ) &
bg=$!
for _ in $(seq 100); do grep -q "TAP ok halting" "$log" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s)
kill -TERM "$(cat "$pid")"
wait $bg
echo "took=$(($(date +%s) - t0))" >>"$log"
t_expect cli-sigterm-grace "$log" "did not power off within 5 s" "^rc=0$" "^took=([5-9]|1[0-5])$"

log=$VMK_LOGDIR/direct-cli-logfile.log
out=$(mktemp /tmp/vmkit-serial.XXXXXX)
timeout 60 "$VMKIT" --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=poweroff\"" \
    --device "serial,logFilePath=$out" </dev/null >"$log" 2>&1
echo "rc=$?" >>"$log"
cat "$out" >>"$log"; rm -f "$out"
t_expect cli-serial-logfile "$log" "^rc=0$" "vmkit-testguest: cmdline"

# vfkit's REST API, as podman and crc drive it: over a unix socket through a pause, a
# resume, bad requests and a Stop (the guest sees the power button and powers off), then
# over TCP on loopback to a HardStop.
wait_for() { for _ in $(seq 200); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
log=$VMK_LOGDIR/direct-cli-rest-unix.log
sock=$(mktemp -u /tmp/vmkit-rest.XXXXXX)
( timeout -k 5 60 "$VMKIT" --memory 64 --restful-uri "unix://$sock" \
    --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=powerbutton\"" --device serial,stdio </dev/null >"$log.vm" 2>&1
  echo "rc=$?" >>"$log.vm" ) &
bg=$!
wait_for "TAP ok armed" "$log.vm"
rc() { curl -s -S --max-time 20 -w ' HTTP=%{http_code}\n' "$@"; echo; }
{
    rc --unix-socket "$sock" http://localhost/vm/state
    rc --unix-socket "$sock" -X POST -d '{"state":"Pause"}' http://localhost/vm/state
    rc --unix-socket "$sock" http://localhost/vm/state
    rc --unix-socket "$sock" -X POST -d '{"state":"Resume"}' http://localhost/vm/state
    rc --unix-socket "$sock" -X POST -d '{"state":' http://localhost/vm/state
    rc --unix-socket "$sock" -X POST -d '{"state":"Sleep"}' http://localhost/vm/state
    rc --unix-socket "$sock" http://localhost/vm/inspect
    rc --unix-socket "$sock" http://localhost/vm/nothing
    rc --unix-socket "$sock" -X POST -d '{"state":"Stop"}' http://localhost/vm/state
} >"$log" 2>&1
wait $bg
cat "$log.vm" >>"$log"; rm -f "$log.vm"
[ -e "$sock" ] || echo "socket-removed" >>"$log"
t_expect cli-rest-unix "$log" \
    '^\{"canHardStop":true,"canPause":true,"canResume":false,"canStart":false,"canStop":true,"state":"VirtualMachineStateRunning"\} HTTP=200$' \
    '"canResume":true,"canStart":false,"canStop":false,"state":"VirtualMachineStatePaused"\} HTTP=200$' \
    '^ HTTP=202$' '^\{"error":"[^"]+"\} HTTP=400$' '^\{"error":"invalid new VMState: Sleep"\} HTTP=500$' \
    '^\{"vcpus":1,"memoryBytes":67108864,"bootloader":\{"kind":"linuxBootloader","vmlinuzPath":"[^"]+","kernelCmdLine":"vmkit.t=powerbutton"' \
    '"devices":\[\{"kind":"virtioserial","usesStdio":true\}\]\}' '^404 page not found HTTP=404$' \
    "TAP ok pwrbtn-sts" "^rc=0$" "^socket-removed$"
# Over TCP also vmkit's own endpoints (/vmkit/...): the balloon and a media change, each
# with its error answers, then a HardStop.
log=$VMK_LOGDIR/direct-cli-rest-tcp.log
port=$((20000 + $$ % 20000))
img1=$(mktemp /tmp/vmkit-rest-a.XXXXXX); img2=$(mktemp /tmp/vmkit-rest-b.XXXXXX)
truncate -s 1M "$img1"; truncate -s 2M "$img2"
( timeout -k 5 60 "$VMKIT" --memory 64 --restful-uri "tcp://127.0.0.1:$port" \
    --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=halt\"" --device serial,stdio \
    --device "virtio-blk,path=$img1" --device virtio-balloon </dev/null >"$log.vm" 2>&1
  echo "rc=$?" >>"$log.vm" ) &
bg=$!
wait_for "TAP ok halting" "$log.vm"
u=http://127.0.0.1:$port
{
    rc "$u/vm/state"
    echo "balloon-set: $(rc -X POST -d '{"targetBytes":33554432}' "$u/vmkit/balloon")"
    echo "balloon-get: $(rc "$u/vmkit/balloon")"
    echo "balloon-bad: $(rc -X POST -d '{"targetBytes":"x"}' "$u/vmkit/balloon")"
    echo "media-swap: $(rc -X POST -d "{\"path\":\"$img2\",\"readOnly\":true}" "$u/vmkit/storage/0")"
    echo "media-missing: $(rc -X POST -d '{"path":"/nonexistent/disk.img"}' "$u/vmkit/storage/0")"
    echo "media-index: $(rc -X POST -d '{"path":null}' "$u/vmkit/storage/7")"
    echo "media-eject: $(rc -X POST -d '{"path":null}' "$u/vmkit/storage/0")"
    echo "ext-unknown: $(rc "$u/vmkit/nothing")"
    rc -X POST -d '{"state":"HardStop"}' "$u/vm/state"
} >"$log" 2>&1
wait $bg
rm -f "$img1" "$img2"
cat "$log.vm" >>"$log"; rm -f "$log.vm"
t_expect cli-rest-tcp-hardstop "$log" '"state":"VirtualMachineStateRunning"\} HTTP=200$' '^ HTTP=202$' '^rc=5$'
t_expect cli-rest-vmkit-ext "$log" '^balloon-set: \{\} HTTP=200$' \
    '^balloon-get: \{"targetBytes":33554432,"actualBytes":0\} HTTP=200$' \
    '^balloon-bad: \{"error":"targetBytes: expected a number of bytes"\} HTTP=400$' \
    '^media-swap: \{\} HTTP=200$' '^media-missing: \{"error":"[^"]*nonexistent[^"]*"\} HTTP=422$' \
    '^media-index: \{"error":"[^"]+"\} HTTP=404$' '^media-eject: \{\} HTTP=200$' \
    '^ext-unknown: 404 page not found HTTP=404$'

# A unix datagram peer (gvproxy's --listen-vfkit) hears vfkit's magic "VFKT" first, unless
# vfkitMagic=off; the guest sends nothing, so that is all it hears.
for spec in "unixSocketPath=@S@" "type=unixgram,path=@S@,vfkitMagic=off"; do
    name=cli-vfkit-magic-$([ "${spec#*off}" = "$spec" ] && echo on || echo off)
    log=$VMK_LOGDIR/direct-$name.log
    gs=$(mktemp -u /tmp/vmkit-gv.XXXXXX); out=$(mktemp /tmp/vmkit-gv-out.XXXXXX)
    socat -u UNIX-RECV:"$gs" OPEN:"$out",append & sp=$!
    for _ in $(seq 50); do [ -S "$gs" ] && break; sleep 0.1; done
    timeout -k 5 60 "$VMKIT" --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=poweroff\"" \
        --device "virtio-net,${spec/@S@/$gs}" </dev/null >"$log" 2>&1
    echo "rc=$?" >>"$log"
    sleep 0.3; kill $sp 2>/dev/null; wait $sp 2>/dev/null
    echo "peer-got=[$(cat "$out")]" >>"$log"
    rm -f "$gs" "$out"
done
t_expect cli-vfkit-magic-on "$VMK_LOGDIR/direct-cli-vfkit-magic-on.log" "^rc=0$" '^peer-got=\[VFKT\]$'
t_expect cli-vfkit-magic-off "$VMK_LOGDIR/direct-cli-vfkit-magic-off.log" "^rc=0$" '^peer-got=\[\]$'

# One image, two VMs: the second is refused (OFD lock) and the image is untouched.
img=$(mktemp /tmp/vmkit-img.XXXXXX)
head -c 4194304 /dev/urandom >"$img"
h1=$(md5sum <"$img")
log=$VMK_LOGDIR/direct-cli-disk-locked.log
rm -f "$pid"
( timeout 60 "$VMKIT" --pidfile "$pid" --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=halt\"" \
    --device "virtio-blk,path=$img" --device serial,stdio </dev/null >"$log.1" 2>&1 ) &
bg=$!
for _ in $(seq 100); do grep -q "TAP ok halting" "$log.1" 2>/dev/null && break; sleep 0.1; done
timeout 60 "$VMKIT" --memory 64 --bootloader "linux,kernel=$G,cmdline=\"vmkit.t=poweroff\"" \
    --device "virtio-blk,path=$img" </dev/null >"$log" 2>&1
echo "rc=$?" >>"$log"
kill -TERM "$(cat "$pid")"; sleep 0.5; kill -TERM "$(cat "$pid")" 2>/dev/null
wait $bg
[ "$(md5sum <"$img")" = "$h1" ] && echo "image-unchanged" >>"$log"
t_expect cli-disk-locked "$log" "in use by another VM" "^rc=1$" "^image-unchanged$"
rm -f "$img" "$log.1"

# virtio over PCI from inside: ECAM (MCFG) and 0xcf8, BAR sizing, capabilities,
# a virtio-rng driver with MSI-X, and a hostile driver the device must flag
# with DEVICE_NEEDS_RESET while the VM keeps running (tests/direct/README.md).
guest virtio --entropy 1 --cmdline "vmkit.t=virtio"
tap_clean virtio "TAP ok virtio-recovers" "stop-reason guest-poweroff"
guest virtio-2cpu --entropy 1 --cpus 2 --cmdline "vmkit.t=virtio"
tap_clean virtio-2cpu "TAP ok virtio-recovers" "stop-reason guest-poweroff"
# The test guest as the firmware of the EFI boot loader (tests/direct/fwstub.S,
# tests_firmware.c): fw_cfg, the ACPI table-loader, CFI flash and CMOS from
# inside; then the variable store file must hold exactly the guest's flash
# writes (its last sector erased, last byte 0x5a) and nothing else.
FWC=$B/tests/direct/vmkit-testfw-code.fd
fwv=$(mktemp /tmp/vmkit-testfw-vars.XXXXXX)
cp "$B/tests/direct/vmkit-testfw-vars.fd" "$fwv"
log="$VMK_LOGDIR/direct-firmware.log"
timeout 120 "$API" --efi "$fwv" --firmware "$FWC" --memory 64 --timeout 60 >"$log" 2>&1
echo "rc=$?" >>"$log"
tap_clean firmware "TAP ok table-loader" "TAP ok flash-erase" "TAP ok cmos-memory-size" "stop-reason guest-poweroff"
size=$(stat -c %s "$fwv")
keep=$((size - 4096))
if cmp -s -n "$keep" "$fwv" "$B/tests/direct/vmkit-testfw-vars.fd" &&
    [ "$(tail -c 4096 "$fwv" | head -c 4095 | tr -d '\377' | wc -c)" = 0 ] &&
    [ "$(tail -c 1 "$fwv" | od -An -tx1 | tr -d ' ')" = 5a ]; then
    t_pass firmware-store-file
else
    t_fail firmware-store-file "store $fwv does not hold exactly the guest's flash writes"
fi
# The same through the CLI (efi,variable-store=,firmware=).
cp "$B/tests/direct/vmkit-testfw-vars.fd" "$fwv"
log="$VMK_LOGDIR/direct-cli-firmware.log"
timeout 120 "$VMKIT" --memory 64 --bootloader "efi,variable-store=$fwv,firmware=$FWC" --device serial,stdio \
    </dev/null >"$log" 2>&1
echo "rc=$?" >>"$log"
t_expect cli-firmware "$log" "TAP ok table-loader" "TAP ok flash-program-alt" "TAP done [1-9][0-9]* 0" "^rc=0$"
rm -f "$fwv" "$fwv.vmkit-tmp"
exit 0
