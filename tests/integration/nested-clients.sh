#!/usr/bin/env bash
# Nested tier, vfkit's clients: the command lines podman machine (applehv), crc and minikube
# build for vfkit, as their sources build them (paths replaced with test paths, sizes fitted to
# the emulated host), started through the `vfkit` symlink, waited for the way each client
# waits, and stopped the way each client stops it:
#   podman   efi + create, gvproxy's unixgram peer, vsock "Ready" on 1025 (its readiness),
#            REST on tcp://localhost: POST Stop, GET /vm/state every 0.5 s until the
#            connection fails (at most 90 s, then HardStop)   pkg/machine/apple{,hv}, apple/vfkit
#   crc      efi (create only without a store), unixgram peer, --timesync vsockPort=1234;
#            finds the process by pid file and name "vfkit", SIGTERM, polls every 2 s for
#            at most 120 s                                     pkg/drivers/vfkit/driver_darwin.go
#   minikube linux boot loader, nat, REST on unix://: POST Stop, then polls every 3 s that the
#            pid file's process named "vfkit" is gone          pkg/drivers/vfkit/vfkit.go
# Then crc's next start (the store exists: no create) and `crc delete` (SIGKILL), and
# minikube's next start and `minikube delete` (POST HardStop: exit 5, the socket removed).
# Not here: podman's HardStop after 90 s of polling (the test guest always obeys the power
# button).
# Each check: the guest came up (its console on the virtio-serial log; podman's Ready), the
# exit status is 0, the process is gone, and nothing vmkit made is left (REST socket, port).
# One L1 run of its own; VMK_DIRECT=1 runs the same script on this host.
# usage: nested-clients.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-clients-guest-build; exit 0; }
GD=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)
SOCAT=$(command -v socat) || { t_fail nested-clients-socat "socat is not installed (scripts/deps.sh)"; exit 0; }
CURL=$(command -v curl) || { t_fail nested-clients-curl "curl is not installed (scripts/deps.sh)"; exit 0; }
ovmf=$("$ROOT/tools/guest/fetch-ovmf.sh") || { t_fail nested-clients-ovmf-fetch; exit 0; }

# The guest's socat (for podman's Ready) with its libraries, as an archive appended to the
# initrd, as nested-vsock.sh does; the EFI clients boot it from a GRUB disk.
work=$(mktemp -d /tmp/vmkit-clients.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/o/bin"
cp -L "$SOCAT" "$work/o/bin/socat"
ldd "$SOCAT" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' |
    while read -r lib; do mkdir -p "$work/o$(dirname "$lib")"; cp -L "$lib" "$work/o$lib"; done
(cd "$work/o" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$work/socat.cpio.gz"
iso=$("$ROOT/tools/guest/build-grub-iso.sh" --client "$work/socat.cpio.gz" 2>"$VMK_LOGDIR/nested-clients-iso.log") ||
    { t_fail nested-clients-iso-build "log $VMK_LOGDIR/nested-clients-iso.log"; exit 0; }
install -m 0644 "$ovmf/OVMF_CODE_4M.fd" "$ovmf/OVMF_VARS_4M.fd" "$iso" "$work/"

l1=$work/l1.sh
cat >"$l1" <<'L1'
K=$GUEST_KERNEL; I=$GUEST_INITRD
run() { name=$1; shift; echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; }
# What an installed vmkit gives: vfkit is a symlink to vmkit (meson install does the same).
command -v vfkit >/dev/null || ln -s vmkit "$(dirname "$(command -v vmkit)")/vfkit"
if [ ! -e /usr/share/OVMF/OVMF_CODE_4M.fd ] && [ -z "${VMK_DIRECT:-}" ]; then
    mkdir -p /usr/share/OVMF
    ln -s "$GUEST_DATA/OVMF_CODE_4M.fd" "$GUEST_DATA/OVMF_VARS_4M.fd" /usr/share/OVMF/
fi
ip link set lo up 2>/dev/null
grep -qs localhost /etc/hosts || { mkdir -p /etc && echo "127.0.0.1 localhost" >>/etc/hosts; }
DISK=$GUEST_DATA/vmkit-grub-client.iso

# start DIR ARGS...: vfkit ARGS in the background as a client's child, its pid in DIR/pid (a
# client's own pid file), its exit status in DIR/rc once it ends (the client reaps it).
start() {
    sd=$1; shift
    ( sh -c 'echo $$ >"$0"; exec vfkit "$@"' "$sd/pid" "$@" >"$sd/vfkit.out" 2>&1; echo $? >"$sd/rc" ) &
    for st_i in $(seq 50); do [ -s "$sd/pid" ] && break; sleep 0.1; done
    # The name is vfkit's once sh has exec'd it.
    for st_i in $(seq 50); do alive "$(cat "$sd/pid")" && break; sleep 0.1; done
    echo "VFKIT-PID=$(cat "$sd/pid") COMM=$(cat /proc/$(cat "$sd/pid")/comm)"
}
# wait_for SECONDS FILE PATTERN: until PATTERN is in FILE; gives up early when vfkit ended.
wait_for() {
    wf_n=$1 wf_i=0
    until grep -q "$3" "$2" 2>/dev/null; do
        [ -s "$sd/rc" ] && { echo "VFKIT-ENDED-EARLY rc=$(cat "$sd/rc")"; return 1; }
        wf_i=$((wf_i + 1)); [ $wf_i -lt "$wf_n" ] || { echo "TIMEOUT waiting for $3"; return 1; }
        sleep 1
    done
}
# until SECONDS CMD...: CMD every second until it succeeds (1 after SECONDS).
until_ok() { uo_n=$1; shift; uo_i=0; while ! "$@"; do uo_i=$((uo_i + 1)); [ $uo_i -lt "$uo_n" ] || return 1; sleep 1; done; }
# alive PID: what crc and minikube ask: a process with that pid, named vfkit.
alive() { [ "$(cat /proc/$1/comm 2>/dev/null)" = vfkit ]; }
# The exit status once the process is reaped, and what is left.
finish() {
    sd=$1
    until_ok 30 test -s "$sd/rc" || echo "VFKIT-NOT-REAPED"
    echo "VFKIT-EXIT=$(cat "$sd/rc" 2>/dev/null)"
    alive "$(cat "$sd/pid")" && echo "VFKIT-STILL-RUNNING" || echo "VFKIT-GONE"
    sed 's/^/vfkit| /' "$sd/vfkit.out"
}
gvproxy() { socat -u UNIX-RECV:"$1" CREATE:"$2" & }
magic() { echo "PEER-FIRST4=$(head -c 4 "$1" 2>/dev/null)"; }

echo "VERSION-LINE=$(vfkit -v)"
echo "CRC-READS=$(vfkit -v | cut -d: -f2 | tr -d ' \n' | sed 's/^v//')"

podman() {
    d=$(mktemp -d /tmp/podman.XXXXXX); n=podman-machine-default
    cp "$DISK" "$d/$n-amd64.raw"
    mkdir "$d/home"
    # A store an earlier start left: podman passes create on every start, vfkit replaces it.
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$d/efi-bl-$n"
    printf 'VMKIT-EARLIER-START' | dd of="$d/efi-bl-$n" bs=1 seek=8192 conv=notrunc 2>/dev/null
    gvproxy "$d/$n-gvproxy.sock" "$d/gv.bin"; gp=$!
    socat -u UNIX-LISTEN:"$d/$n.sock" - >"$d/ready.out" &
    sleep 0.5
    port=$((20000 + $$ % 10000))
    start "$d" --cpus 2 --memory 2048 --bootloader "efi,variable-store=$d/efi-bl-$n,create" \
        --device "virtio-blk,path=$d/$n-amd64.raw" --device virtio-rng \
        --device "virtio-vsock,port=1025,socketURL=$d/$n.sock,listen" \
        --device "virtio-serial,logFilePath=$d/$n.log" \
        --device "virtio-net,unixSocketPath=$d/$n-gvproxy.sock,mac=5a:94:ef:e4:0c:ee" \
        --device "virtio-fs,sharedDir=$d/home,mountTag=a2a0ee2c717462feb1de2f5afd59de5fd2d8" \
        --restful-uri "tcp://localhost:$port" \
        --device "virtio-vsock,port=1024,socketURL=$d/$n-ignition.sock,listen"
    # podman waits for Ready on its socket (or for the process to end).
    wait_for 900 "$d/ready.out" Ready && echo "PODMAN-READY=$(cat "$d/ready.out")"
    echo "PODMAN-STATE=$(curl -s --max-time 10 "http://localhost:$port/vm/state")"
    wait_for 60 "$d/$n.log" SLEEPING
    grep -c VMKIT-EARLIER-START "$d/efi-bl-$n" | sed 's/^/PODMAN-OLD-STORE-MARKS=/'
    # Stop(false, true): POST Stop, then GET /vm/state every 0.5 s until it fails; after 90 s
    # a HardStop.
    curl -s --max-time 10 -X POST -d '{"state":"Stop"}' "http://localhost:$port/vm/state" &&
        echo "PODMAN-POST-STOP=sent"
    polls=0
    while curl -s --max-time 10 "http://localhost:$port/vm/state" >/dev/null; do
        polls=$((polls + 1))
        if [ $polls -ge 180 ]; then
            echo "PODMAN-HARDSTOP"
            curl -s --max-time 10 -X POST -d '{"state":"HardStop"}' "http://localhost:$port/vm/state"
            break
        fi
        sleep 0.5
    done
    echo "PODMAN-POLLS=$polls"
    finish "$d"
    curl -s --max-time 5 "http://localhost:$port/vm/state" >/dev/null || echo "PODMAN-PORT=closed"
    kill $gp 2>/dev/null; wait $gp 2>/dev/null
    magic "$d/gv.bin"
    sed 's/^/console| /' "$d/$n.log"
    [ "$(cat "$d/home/from-guest" 2>/dev/null)" = "guest was here" ] && echo "PODMAN-SHARE=written"
    rm -rf "$d"
}
run podman podman

crc() {
    d=$(mktemp -d /tmp/crc.XXXXXX)
    cp "$DISK" "$d/crc.img"
    mkdir "$d/home"
    gvproxy "$d/crc-unixgram.sock" "$d/gv.bin"; gp=$!
    sleep 0.5
    # crc passes --timesync vsockPort=1234 (its image runs qemu-guest-agent there; this guest
    # does not, and vmkit only connects after a host sleep or a resume).
    ts="--timesync vsockPort=1234"
    if vfkit $ts -v >/dev/null 2>&1; then
        echo "CRC-TIMESYNC=passed"
    else
        echo "CRC-TIMESYNC=left out: $(vfkit $ts -v 2>&1)"; ts=
    fi
    # create only when the store is missing: the first start.
    start "$d" --cpus 2 --memory 1024 --bootloader "efi,variable-store=$d/efistore.nvram,create" \
        --device "virtio-serial,logFilePath=$d/vfkit.log" \
        --device "virtio-fs,sharedDir=$d/home,mountTag=dir0" --device virtio-rng \
        --device "virtio-blk,path=$d/crc.img" \
        --device "virtio-net,unixSocketPath=$d/crc-unixgram.sock,mac=5a:94:ef:e4:0c:ee" $ts
    cp "$d/pid" "$d/vfkit.pid"
    wait_for 900 "$d/vfkit.log" SLEEPING && echo "CRC-GUEST=up"
    # Stop(): the pid file's process, if named vfkit, gets SIGTERM; then every 2 s, for at most
    # 120 s, GetState until it is stopped; then the pid file is removed.
    pid=$(cat "$d/vfkit.pid")
    alive $pid && kill -TERM $pid && echo "CRC-SIGTERM=sent"
    t0=$(date +%s); tries=0
    while [ $tries -lt 60 ]; do
        sleep 2; tries=$((tries + 1))
        alive $pid || break
    done
    alive $pid && echo "CRC-STOP=failed (VM Failed to gracefully shutdown)" ||
        { rm -f "$d/vfkit.pid"; echo "CRC-STOP=stopped after $tries polls"; }
    finish "$d"
    kill $gp 2>/dev/null; wait $gp 2>/dev/null
    magic "$d/gv.bin"
    sed 's/^/console| /' "$d/vfkit.log"
    [ "$(cat "$d/home/from-guest" 2>/dev/null)" = "guest was here" ] && echo "CRC-SHARE=written"
    [ -s "$d/efistore.nvram" ] && echo "CRC-STORE=created"
    echo "$d" >/tmp/crc.dir
}
run crc crc

# The next `crc start`: the store exists, so no create; then `crc delete`: SIGKILL (Kill()).
crc_again() {
    d=$(cat /tmp/crc.dir); rm -f "$d/pid" "$d/rc" "$d/vfkit.log" "$d/gv.bin"
    gvproxy "$d/crc-unixgram.sock" "$d/gv.bin"; gp=$!
    sleep 0.5
    start "$d" --cpus 2 --memory 1024 --bootloader "efi,variable-store=$d/efistore.nvram" \
        --device "virtio-serial,logFilePath=$d/vfkit.log" \
        --device "virtio-fs,sharedDir=$d/home,mountTag=dir0" --device virtio-rng \
        --device "virtio-blk,path=$d/crc.img" \
        --device "virtio-net,unixSocketPath=$d/crc-unixgram.sock,mac=5a:94:ef:e4:0c:ee"
    cp "$d/pid" "$d/vfkit.pid"
    wait_for 900 "$d/vfkit.log" SLEEPING && echo "CRC-AGAIN-GUEST=up"
    pid=$(cat "$d/vfkit.pid")
    alive $pid && kill -KILL $pid && echo "CRC-SIGKILL=sent"
    finish "$d"
    kill $gp 2>/dev/null; wait $gp 2>/dev/null
    rm -rf "$d"
}
run crc-again crc_again

minikube() {
    d=$(mktemp -d /tmp/minikube.XXXXXX)
    cp "$DISK" "$d/boot2docker.iso"
    cp "$K" "$d/bzimage"; cp "$I" "$d/initrd"
    truncate -s 64M "$d/disk.img"
    # minikube's cmdline is console=ttyS0; vmkit.console/vmkit.test make the test guest print
    # on the virtio console and wait.
    start "$d" --memory 1024 --cpus 2 --restful-uri "unix://$d/vfkit.sock" --log-level debug \
        --bootloader "linux,kernel=$d/bzimage,initrd=$d/initrd,cmdline=\"console=ttyS0 vmkit.console=hvc0 vmkit.test=client\"" \
        --device "virtio-net,nat,mac=2e:0c:5e:ab:1f:03" --device virtio-rng \
        --device "virtio-blk,path=$d/boot2docker.iso" --device "virtio-blk,path=$d/disk.img" \
        --device "virtio-serial,logFilePath=$d/serial.log"
    cp "$d/pid" "$d/vfkit.pid"
    wait_for 600 "$d/serial.log" SLEEPING && echo "MINIKUBE-GUEST=up"
    echo "MINIKUBE-STATE=$(curl -s --max-time 10 --unix-socket "$d/vfkit.sock" http://_/vm/state)"
    # stopVfkit(): POST Stop on the unix socket (SIGTERM through the pid file only if that
    # fails); then libmachine polls GetState (pid file, process named vfkit) every 3 s.
    if curl -s --max-time 10 --unix-socket "$d/vfkit.sock" -X POST -H 'Content-Type: application/json' \
        -d '{"state":"Stop"}' http://_/vm/state; then
        echo "MINIKUBE-POST-STOP=sent"
    else
        kill -TERM "$(cat "$d/vfkit.pid")" && echo "MINIKUBE-SIGTERM=sent"
    fi
    pid=$(cat "$d/vfkit.pid"); tries=0
    while alive $pid && [ $tries -lt 60 ]; do sleep 3; tries=$((tries + 1)); done
    alive $pid || { rm -f "$d/vfkit.pid"; echo "MINIKUBE-STOP=stopped after $tries polls"; }
    finish "$d"
    [ -e "$d/vfkit.sock" ] && echo "MINIKUBE-SOCKET=left" || echo "MINIKUBE-SOCKET=removed"
    sed 's/^/console| /' "$d/serial.log"
    echo "$d" >/tmp/minikube.dir
}
run minikube minikube

# `minikube start` again (its stale unix socket is removed first, as startVfkit does), then
# `minikube delete`: Kill() POSTs HardStop (SIGKILL through the pid file only when that fails).
minikube_delete() {
    d=$(cat /tmp/minikube.dir); rm -f "$d/pid" "$d/rc" "$d/serial.log" "$d/vfkit.sock"
    start "$d" --memory 1024 --cpus 2 --restful-uri "unix://$d/vfkit.sock" --log-level debug \
        --bootloader "linux,kernel=$d/bzimage,initrd=$d/initrd,cmdline=\"console=ttyS0 vmkit.console=hvc0 vmkit.test=client\"" \
        --device "virtio-net,nat,mac=2e:0c:5e:ab:1f:03" --device virtio-rng \
        --device "virtio-blk,path=$d/boot2docker.iso" --device "virtio-blk,path=$d/disk.img" \
        --device "virtio-serial,logFilePath=$d/serial.log"
    wait_for 600 "$d/serial.log" SLEEPING && echo "MINIKUBE-AGAIN-GUEST=up"
    curl -s --max-time 10 --unix-socket "$d/vfkit.sock" -X POST -H 'Content-Type: application/json' \
        -d '{"state":"HardStop"}' http://_/vm/state && echo "MINIKUBE-POST-HARDSTOP=sent"
    finish "$d"
    [ -e "$d/vfkit.sock" ] && echo "MINIKUBE-SOCKET=left" || echo "MINIKUBE-SOCKET=removed"
    rm -rf "$d"
}
run minikube-delete minikube_delete
exit 0
L1

log="$VMK_LOGDIR/nested-clients-l1.log"
t0=$(date +%s)
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$PATH" GUEST_KERNEL=$GD/vmlinuz GUEST_INITRD=$GD/initrd.cpio.gz GUEST_DATA=$work VMK_DIRECT=1 \
        sh "$l1" </dev/null >"$log" 2>&1
else
    "$ROOT/tests/nested/run-l1.sh" --timeout 2400 --retries 1 "$l1" "$BUILD/vmkit" "$SOCAT" "$CURL" \
        "$work/OVMF_CODE_4M.fd" "$work/OVMF_VARS_4M.fd" "$work/vmkit-grub-client.iso" </dev/null >"$log" 2>&1
fi
rc=$?
echo "nested-clients: L1 run took $(( $(date +%s) - t0 )) s" >>"$log"
[ $rc -eq 0 ] && t_pass nested-clients-rig || t_fail nested-clients-rig "run-l1 exit $rc (log $log)"

t_expect nested-clients-version "$log" '^VERSION-LINE=vfkit \(vmkit [0-9.]+\) version: v[0-9]+\.[0-9]+\.[0-9]+' \
    '^CRC-READS=[0-9]+\.[0-9]+\.[0-9]+.?$'
check podman "COMM=vfkit" "PODMAN-READY=Ready" '"state":"VirtualMachineStateRunning"' "CLIENT-UP" \
    "CLIENT-READY-SENT" "CLIENT-FS-a2a0ee2c717462feb1de2f5afd59de5fd2d8=ok" "PODMAN-OLD-STORE-MARKS=0" \
    "PODMAN-POST-STOP=sent" "VFKIT-EXIT=0" "VFKIT-GONE" "PODMAN-PORT=closed" "PEER-FIRST4=VFKT" \
    "PODMAN-SHARE=written" &&
    t_absent nested-podman-no-hardstop "$VMK_LOGDIR/nested-podman.log" "PODMAN-HARDSTOP"
check crc "COMM=vfkit" "CRC-TIMESYNC=passed" "CRC-GUEST=up" "CLIENT-FS-dir0=ok" "CRC-SIGTERM=sent" "CRC-STOP=stopped" \
    "VFKIT-EXIT=0" "VFKIT-GONE" "PEER-FIRST4=VFKT" "CRC-SHARE=written" "CRC-STORE=created"
check minikube "COMM=vfkit" "MINIKUBE-GUEST=up" '"state":"VirtualMachineStateRunning"' \
    "MINIKUBE-POST-STOP=sent" "MINIKUBE-STOP=stopped" "VFKIT-EXIT=0" "VFKIT-GONE" "MINIKUBE-SOCKET=removed"
check crc-again "COMM=vfkit" "CRC-AGAIN-GUEST=up" "CRC-SIGKILL=sent" "VFKIT-EXIT=137" "VFKIT-GONE"
check minikube-delete "COMM=vfkit" "MINIKUBE-AGAIN-GUEST=up" "MINIKUBE-POST-HARDSTOP=sent" "VFKIT-EXIT=5" \
    "VFKIT-GONE" "MINIKUBE-SOCKET=removed"
grep -a "nested-clients: L1 run took\|CRC-TIMESYNC" "$log" | tr -d '\r' | sed 's/^/    /'
exit 0
