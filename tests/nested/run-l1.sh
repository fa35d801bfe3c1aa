#!/usr/bin/env bash
# Runs a shell script inside "L1": a Debian cloud kernel booted by QEMU in TCG mode on an
# emulated AMD CPU with SVM, where /dev/kvm is hardware-style KVM (nested). This is how real
# Linux guests and firmware are tested on machines whose own /dev/kvm cannot run them (PVM,
# see /work/shared/ENVIRONMENT.md), and how QEMU-vs-vmkit benchmarks run side by side.
#
# usage: run-l1.sh [--timeout SEC] [--mem MIB] [--disk-mib N] [--state FILE] [--retries N]
#                  SCRIPT [FILE...]
#
#   --state FILE  a persistent ext4 image (made here when FILE does not exist), mounted at
#            /state in L1 and kept after the run: what one attempt leaves there, the next
#            attempt finds (tests/nested/l1-lib.sh makes test steps resumable with it).
#   --retries N   rerun L1 up to N times when the outer QEMU aborts on its known TCG bug
#            (exit 123, see below). With retries, stdout gets the console of the last
#            attempt only, once it ends; earlier attempts are summarised on stderr.
#
#   --disk-mib N  gives L1 a real disk: a sparse N MiB file under /var/tmp (removed at exit)
#            attached to the outer QEMU as a virtio disk (raw, cache=none, aio=io_uring or
#            threads); L1 sees it as /dev/vda, blank (the script can mke2fs and mount it;
#            pass /sbin/mke2fs as a FILE).
#   SCRIPT   runs as `sh /run.sh` in L1 (cwd /, PATH=/bin:/sbin:/usr/bin:/usr/sbin), after
#            /dev/kvm is up. Its exit status becomes run-l1.sh's exit status.
#   FILE     copied into L1: executables (the -x bit) go to /bin/<name> together with every
#            shared library ldd lists and the ELF interpreter, at their host paths;
#            anything else goes to /data/<name>.
#   In L1:   /guest/vmlinuz, /guest/initrd.cpio.gz   the L2 test guest (tools/guest)
#            env GUEST_KERNEL, GUEST_INITRD, GUEST_DATA=/data
#
# L1's console (and so everything run.sh and its L2 guests print) streams to stdout.
# Exit status: run.sh's status (from the L1-EXIT=<n> line), 124 on timeout, 125 when L1 never
# printed L1-EXIT (crash, panic, kvm modules missing before run.sh...), 123 when the outer
# QEMU (Debian's 7.2) aborted with "tcg_handle_interrupt: assertion failed": its SVM emulation
# raises an interrupt without the global lock when the L2 guest writes CR8 while L1's KVM has
# a virtual interrupt pending. EDK2 restores CR8 on every interrupt return, so a firmware
# (OVMF) guest in L2 can trip it; it is the emulator's bug, not the code under test. The
# outer QEMU therefore runs with tests/nested/tcg-shim.c preloaded, which lets exactly that
# assertion through; 123 remains for when the shim cannot be built.
# 123 is also the status when L1 stalls: the outer QEMU's busiest thread (its TCG vCPU) does not
# run and the console stays silent for VMK_L1_STALL seconds (default 120). Seen a few times in
# long benchmark L1s: every outer-QEMU thread asleep, L1 halted with nothing left to wake it
# (one suspect: an interrupt request the shim lets through without the lock, lost in a race).
# The watchdog kills that QEMU so the run fails fast, or --retries runs it again.
# Env: VMK_CACHE (cache dir), VMK_L1_APPEND (extra L1 kernel arguments),
#      VMK_L1_QEMU_ARGS (extra arguments for the outer QEMU), VMK_L1_STALL (seconds).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
timeout_s=900
mem=3072
disk_mib=
state=
retries=0
interactive=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --timeout) timeout_s=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --disk-mib) disk_mib=$2; shift 2 ;;
        --state) state=$2; shift 2 ;;
        --retries) retries=$2; shift 2 ;;
        --interactive) interactive=1; shift ;;
        --) shift; break ;;
        -*) echo "run-l1: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[[ $# -ge 1 ]] || { sed -n '8,28p' "${BASH_SOURCE[0]}" >&2; exit 2; }
script=$1; shift
[[ -f $script ]] || { echo "run-l1: no script $script" >&2; exit 2; }

if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "run-l1: installing qemu-system-x86" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 >&2 </dev/null
fi

# The L2 guest and the kernel/busybox that L1 shares with it.
"$ROOT/tools/guest/build-guest.sh" >/dev/null
CACHE=$("$ROOT/tools/guest/build-guest.sh" --print-dir)
G=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)
N=$CACHE/nested
mkdir -p "$N"

# L1's /init. Runs as PID 1 in a plain shell: there is nothing to shut down cleanly, so
# poweroff -f. The rootfs is the initramfs itself; nothing is mounted over it.
read -r -d '' L1_INIT <<'INIT' || true
#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
[ -t 1 ] || exec 0<>/dev/console 1>&0 2>&0
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
for m in irqbypass kvm kvm-amd; do insmod /lib/modules/$m.ko || echo "L1: insmod $m failed"; done
# TAP and bridges for the bridged-network tests, vhost-net (needs vhost, tap, tun) for the
# TAP data path, in dependency order, when present.
for m in llc stp bridge tun vhost_iotlb vhost tap vhost_net; do
    [ -f /lib/modules/$m.ko ] && { insmod /lib/modules/$m.ko || echo "L1: insmod $m failed"; }
done
# virtio-blk (run-l1.sh --disk-mib), only when there is a virtio PCI device (vendor 0x1af4)
# and only the modules that exist.
if grep -qs 0x1af4 /sys/bus/pci/devices/*/vendor; then
    for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
        [ -f /lib/modules/$m.ko ] && { insmod /lib/modules/$m.ko || echo "L1: insmod $m failed"; }
    done
fi
# run-l1.sh --state: the persistent disk named on the kernel command line.
st=$(sed -n 's/.*vmkit\.l1state=\([a-z]*\).*/\1/p' /proc/cmdline)
if [ -n "$st" ]; then
    mkdir -p /state && mount -t ext4 /dev/$st /state || echo "L1: cannot mount /dev/$st at /state"
fi
if [ ! -c /dev/kvm ]; then
    echo "L1: no /dev/kvm"
    echo "L1-EXIT=126"
    poweroff -f
fi
echo "L1-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
export GUEST_KERNEL=/guest/vmlinuz GUEST_INITRD=/guest/initrd.cpio.gz GUEST_DATA=/data
cd /
# Interactive runs (the demo) need the console as controlling terminal.
if [ -f /interactive ]; then setsid cttyhack sh /run.sh; else sh /run.sh; fi
echo "L1-EXIT=$?"
sync
poweroff -f
INIT

VBLK_MODS=("$G"/modules/drivers/virtio/{virtio_ring,virtio,virtio_pci_legacy_dev,virtio_pci_modern_dev,virtio_pci}.ko
           "$G"/modules/drivers/block/virtio_blk.ko)
NET_MODS=("$G"/modules/net/llc/llc.ko "$G"/modules/net/802/stp.ko "$G"/modules/net/bridge/bridge.ko
          "$G"/modules/drivers/net/tun.ko "$G"/modules/drivers/vhost/{vhost_iotlb,vhost,vhost_net}.ko
          "$G"/modules/drivers/net/tap.ko)

# Base archive (busybox, kvm modules, L2 guest, /init), cached under a key of its inputs so
# only the small per-run archive is built each time. Uncompressed on purpose: L1 runs under
# TCG, where gunzip of ~20 MB would cost more than QEMU copying the bytes in.
key=$( { echo "$L1_INIT"; cat "$G/kernel-release";
         stat -L -c '%n %s %Y' "$G/busybox" "$G/vmlinuz" "$G/initrd.cpio.gz" \
             "$G"/modules/virt/lib/irqbypass.ko "$G"/modules/arch/x86/kvm/kvm.ko \
             "$G"/modules/arch/x86/kvm/kvm-amd.ko; echo virtio-blk
         for f in "${VBLK_MODS[@]}" "${NET_MODS[@]}"; do [[ -f $f ]] && stat -L -c '%n %s %Y' "$f"; done; true; } |
       sha256sum | cut -c1-16)
base=$N/l1-base-$key.cpio
if [[ ! -f $base ]]; then
    t=$(mktemp -d "$N/.base.XXXXXX")
    r=$t/root
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,data,guest,lib/modules,var/tmp}
    cp "$G/busybox" "$r/bin/busybox"
    while read -r p; do
        [[ $p == bin/busybox || -e $r/$p || -L $r/$p ]] && continue
        mkdir -p "$r/$(dirname "$p")"; ln -s /bin/busybox "$r/$p"
    done < <("$G/busybox" --list-full)
    cp "$G"/modules/virt/lib/irqbypass.ko "$G"/modules/arch/x86/kvm/kvm.ko \
       "$G"/modules/arch/x86/kvm/kvm-amd.ko "$r/lib/modules/"
    for f in "${VBLK_MODS[@]}" "${NET_MODS[@]}"; do if [[ -f $f ]]; then cp "$f" "$r/lib/modules/"; fi; done
    cp "$G/vmlinuz" "$G/initrd.cpio.gz" "$r/guest/"
    printf '%s\n' "$L1_INIT" > "$r/init"; chmod 0755 "$r/init"
    mknod -m 0600 "$r/dev/console" c 5 1 2>/dev/null || true
    (cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$t/base.cpio"
    mv "$t/base.cpio" "$base"
    rm -rf "$t"
    # Drop archives of older inputs once no run can still be starting from them (several
    # checkouts may share the cache, each with its own inputs).
    find "$N" -maxdepth 1 -name 'l1-base-*.cpio' ! -name "$(basename "$base")" -mmin +180 -delete
fi

# Per-run archive: the script and FILEs. The kernel unpacks concatenated cpio archives in
# order, so these entries land on top of the base.
work=$(mktemp -d "${TMPDIR:-/tmp}/vmk-l1.XXXXXX")
qpid=running
disk=
cleanup() {
    # timeout(1) passes the TERM on to QEMU.
    [[ -n $qpid && -f $work/qemu.pid ]] && kill "$(cat "$work/qemu.pid")" 2>/dev/null
    rm -rf "$work"
    if [[ -n $disk ]]; then rm -f "$disk"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
r=$work/root
mkdir -p "$r/bin" "$r/data"
cp "$script" "$r/run.sh"
copy_lib() {    # keep the path ldd gave: the binary's loader looks exactly there
    local p=$1
    [[ -e $r$p ]] && return 0
    mkdir -p "$r$(dirname "$p")"
    cp -L "$p" "$r$p"
}
for f in "$@"; do
    [[ -e $f ]] || { echo "run-l1: no file $f" >&2; exit 2; }
    if [[ -x $f && ! -d $f ]]; then
        cp -L "$f" "$r/bin/"
        # "libX.so => /path (0x..)" and the interpreter line "/lib64/ld-linux... (0x..)".
        while read -r lib; do copy_lib "$lib"; done < <(
            ldd "$f" 2>/dev/null | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
    else
        cp -L "$f" "$r/data/"
    fi
done
[[ $interactive == 1 ]] && touch "$r/interactive"
find "$r" -type d -exec chmod 0755 {} +
img=$work/l1.cpio
{ cat "$base"; (cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); } > "$img"

# --disk-mib: a sparse raw file, L1's /dev/vda. cache=none so L1's I/O reaches the file
# (O_DIRECT) rather than this host's page cache; io_uring when this QEMU has it.
disk_args=()
if [[ -n $disk_mib ]]; then
    disk=$(mktemp /var/tmp/vmk-l1-disk.XXXXXX)
    truncate -s "${disk_mib}M" "$disk"
    aio=threads     # the probe QEMU runs until timeout stops it (124) unless it rejects aio=
    prc=0; timeout 3 qemu-system-x86_64 -machine none -nodefaults -display none -S \
        -drive "file=$disk,if=none,format=raw,cache=none,aio=io_uring" </dev/null >/dev/null 2>&1 || prc=$?
    [[ $prc == 124 ]] && aio=io_uring
    echo "run-l1: L1 disk ${disk_mib} MiB, aio=$aio" >&2
    disk_args=(-drive "file=$disk,if=virtio,format=raw,cache=none,aio=$aio")
fi
# no_timer_check: under TCG on a loaded host the kernel's check that the PIT reaches the IO-APIC
# can miss its window and panic ("IO-APIC + timer doesn't work!"); the emulated timer works.
append=
if [[ -n $state ]]; then
    if [[ ! -f $state ]]; then
        truncate -s 1G "$state" && mkfs.ext4 -q -F "$state" >/dev/null ||
            { echo "run-l1: cannot make the state disk $state" >&2; rm -f "$state"; exit 2; }
    fi
    # virtio disks get vda, vdb... in the order given.
    append="vmkit.l1state=vd$([[ -n $disk_mib ]] && echo b || echo a)"
    disk_args+=(-drive "file=$state,if=virtio,format=raw,cache=unsafe")
fi

# The outer QEMU's known TCG abort (see the header) is let through by a small LD_PRELOAD
# shim (tests/nested/tcg-shim.c), built once per source into the cache. Without a C
# compiler the rig runs unshimmed and --retries is the fallback.
shim=$N/tcg-shim-$(sha256sum < "$HERE/tcg-shim.c" | cut -c1-12).so
if [[ ! -f $shim ]]; then
    cc -shared -fPIC -O2 -o "$shim.tmp.$$" "$HERE/tcg-shim.c" -ldl 2>/dev/null &&
        mv "$shim.tmp.$$" "$shim" || { rm -f "$shim.tmp.$$"; echo "run-l1: no tcg shim (cc failed)" >&2; }
fi
preload=()
[[ -f $shim ]] && preload=(env "LD_PRELOAD=$shim")

# Measured recipe (ENVIRONMENT.md): one L1 vCPU (2 soft-locks L1 when L2 has 2 vCPUs),
# single-threaded TCG (MTTCG once asserted while L2 ran), -cpu EPYC,+svm (host fails on MSR).
log=$work/console.log
if [[ $interactive == 1 ]]; then
    # The terminal talks straight to L1's console; signal=off so Ctrl-C reaches the guest.
    "${preload[@]}" qemu-system-x86_64 -M q35 -accel tcg,thread=single -cpu EPYC,+svm \
        -smp 1 -m "$mem" -nodefaults -no-user-config -display none \
        -chardev stdio,id=con,signal=off -serial chardev:con -no-reboot \
        -kernel "$G/vmlinuz" -initrd "$img" "${disk_args[@]}" \
        -append "console=ttyS0 quiet panic=-1 no_timer_check $append ${VMK_L1_APPEND:-}" ${VMK_L1_QEMU_ARGS:-} 2>/dev/null
    exit $?
fi
# The stall watchdog (see the header): the CPU time of QEMU's busiest thread (nanoseconds,
# from schedstat) and the console's size, sampled every 10 s; unchanged for VMK_L1_STALL s:
# SIGKILL, and a note for attempt().
watch_stall() {    # PID of the `timeout` that runs QEMU
    local pid=$1 q last= same=0 cur limit=${VMK_L1_STALL:-120}
    while kill -0 "$pid" 2>/dev/null; do
        sleep 10
        q=$(pgrep -P "$pid" | head -n1) || continue
        cur="$(cat /proc/"$q"/task/*/schedstat 2>/dev/null | sort -n | tail -n1 | cut -d' ' -f1) $(stat -c %s "$log" 2>/dev/null)"
        if [[ $cur == "$last" ]]; then same=$((same + 10)); else same=0 last=$cur; fi
        if ((same >= limit)); then
            echo "$limit" > "$work/stalled"
            kill -9 "$q" 2>/dev/null
            return
        fi
    done
}

# One L1 boot; its console goes to $log (and to stdout when stream=1).
attempt() {
    local stream=$1
    rm -f "$work/qemu.rc" "$work/stalled"
    # QEMU runs in the background so that a signal to run-l1.sh reaches the trap, which stops it.
    {
        timeout -k 10 "$timeout_s" "${preload[@]}" qemu-system-x86_64 -M q35 -accel tcg,thread=single -cpu EPYC,+svm \
            -smp 1 -m "$mem" -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
            -kernel "$G/vmlinuz" -initrd "$img" "${disk_args[@]}" \
            -append "console=ttyS0 quiet panic=-1 no_timer_check $append ${VMK_L1_APPEND:-}" ${VMK_L1_QEMU_ARGS:-} \
            </dev/null 2>&1 &
        qp=$!
        echo $qp > "$work/qemu.pid"
        watch_stall $qp >/dev/null 2>&1 &
        r=0; wait $qp || r=$?
        echo $r > "$work/qemu.rc"
    } | grep --line-buffered -av "TCG doesn't support requested feature" |
        if [[ $stream == 1 ]]; then tee "$log"; else cat > "$log"; fi &
    wait $! || true
    qpid=
    rc=$(cat "$work/qemu.rc" 2>/dev/null || echo 1)
    if [[ -f $work/stalled ]]; then
        echo "run-l1: L1 stalled: no vCPU progress and no console output for $(cat "$work/stalled") s (the outer QEMU's hang, see the header)" >&2
        return 123
    fi
    if [[ $rc == 124 || $rc == 137 ]]; then
        echo "run-l1: timeout after ${timeout_s}s" >&2
        return 124
    fi
    st=$(tr -d '\r' < "$log" | sed -n 's/^L1-EXIT=\([0-9]*\)$/\1/p' | tail -n1)
    if [[ -z $st ]]; then
        if grep -aq "tcg_handle_interrupt: assertion failed" "$log"; then
            echo "run-l1: the outer QEMU aborted on its known TCG bug (see the header); not a test failure" >&2
            return 123
        fi
        echo "run-l1: L1 ended without L1-EXIT (qemu status $rc)" >&2
        return 125
    fi
    return "$st"
}

if [[ $retries == 0 ]]; then
    attempt 1 && exit 0 || exit $?
fi
n=0
while :; do
    n=$((n + 1))
    qpid=running
    s=0; attempt 0 || s=$?
    if [[ $s == 123 && $n -le $retries ]]; then
        echo "run-l1: attempt $n of $((retries + 1)) hit the outer QEMU's TCG bug or stall after $(wc -l <"$log") console lines; again" >&2
        continue
    fi
    cat "$log"
    exit "$s"
done
