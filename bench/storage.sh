#!/usr/bin/env bash
# Storage benchmark: vmkit's virtio-blk against QEMU+KVM's virtio-blk-pci (iothread), both
# inside one L1 (tests/nested/run-l1.sh), measured INSIDE the guest with Debian's fio.
#
#   bench/storage.sh [--runtime SEC] [--rounds N] [--image-mib MIB] [--cpus N]
#                    [--qemu-aio io_uring|threads[,..]] [--qemu-machine M] [--warmup]
#                    [--no-vmkit] [--on-disk] [--no-tmpfs] [BUILD_DIR]
#
# Jobs (bench/guest-fio.sh, run as /tests/fio.sh in a fio variant of the test guest's initrd;
# ioengine=libaio, direct=1, time-based, SEC each after a 1 s ramp, default 5):
#   randread-qd1   4 KiB random read, iodepth 1      (IOPS, mean latency)
#   randread-qd32  4 KiB random read, iodepth 32     (IOPS)
#   seqread        1 MiB sequential read, iodepth 8  (MiB/s)
#   seqwrite       1 MiB sequential write, iodepth 8 (MiB/s)
# The disk is a raw image (default 1024 MiB, zero-filled so every page exists), by default on
# a tmpfs in L1. Both VMMs use the host page cache (vmkit cache=cached, QEMU cache=writeback;
# tmpfs has no O_DIRECT on this kernel, so "uncached" needs --on-disk, below).
# vmkit: vmkit-api-test --disk IMG,cache=cached. QEMU: -M q35, -device virtio-blk-pci with an
# iothread, -drive ...,cache=writeback,aio=io_uring (--qemu-aio threads,io_uring compares
# both; the first is the reference for the ratios). Both with N vCPUs (default 1) and 512 MiB.
# Runs alternate (ABBA across rounds, default 2); medians and vmkit/QEMU ratios are printed
# as markdown tables on stdout and written to bench/results/storage-<date>.md; the L1
# console (every guest line) goes to bench/results/storage-<date>.log.
# --on-disk adds the same jobs with the raw image on ext4 on a real disk in L1 (run-l1.sh
# --disk-mib: a sparse file on this host, a virtio disk of the outer QEMU with cache=none):
# vmkit cache=cached vs QEMU cache=writeback, and vmkit cache=uncached (O_DIRECT works on
# ext4) vs QEMU cache=none, each pair its own table. --no-tmpfs skips the tmpfs pair.
set -euo pipefail
invocation="bench/storage.sh $*"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BENCH_NAME=storage.sh
. "$HERE/lib.sh"

runtime=5 rounds=2 image_mib=1024 cpus=1 aios=io_uring machine=q35 warmup=0 vmkit=1
on_disk=0 tmpfs=1
MEM=512
while [[ $# -gt 0 ]]; do
    case $1 in
        --runtime) runtime=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --image-mib) image_mib=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --qemu-aio) aios=$2; shift 2 ;;
        --qemu-machine) machine=$2; shift 2 ;;
        --warmup) warmup=1; shift ;;
        --no-vmkit) vmkit=0; shift ;;
        --on-disk) on_disk=1; shift ;;
        --no-tmpfs) tmpfs=0; shift ;;
        -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "storage.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
B=$(cd "${1:-$ROOT/build}" && pwd)
[[ $vmkit == 0 || -x $B/tests/vmkit-api-test ]] ||
    { echo "storage.sh: no $B/tests/vmkit-api-test (ninja -C $B)" >&2; exit 1; }

work=$(mktemp -d /tmp/vmkit-storage.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -static -o "$work/vmmrun" "$HERE/vmmrun.c" 2>/dev/null ||
    cc -O2 -Wall -o "$work/vmmrun" "$HERE/vmmrun.c"
# Snapshot the binaries: others may rebuild the tree while L1 is being prepared.
[[ $vmkit == 1 ]] && cp "$B/tests/vmkit-api-test" "$work/vmkit-api-test"

# --- The fio guest: the stock test initrd + an appended cpio with fio, its libraries and
# /tests/fio.sh. The kernel unpacks concatenated archives in order (an uncompressed one must
# start 4-byte aligned, hence the zero padding after the gzip'd base).
bench_guest_dirs
X=$work/fio-pkg
# fio links its ioengines' libraries directly (rbd, gluster, nbd, pmem...); the two that a
# usual Debian host lacks come from their packages, the rest from the host (same release).
for p in fio libnbd0 libpmemblk1; do bench_fetch_deb "$p" "$X"; done
FIO=$X/usr/bin/fio
bench_check_libs "$FIO" "$X" || exit 1
o=$work/overlay
mkdir -p "$o/bin" "$o/tests"
cp "$FIO" "$o/bin/fio"
install -m 0755 "$HERE/guest-fio.sh" "$o/tests/fio.sh"
bench_copy_libs "$FIO" "$X" "$o"
FI=$work/initrd-fio.cpio
bench_initrd "$o" "$FI"
echo "storage.sh: fio initrd $(( $(stat -c %s "$FI") / 1048576 )) MiB ($(du -sm "$o" | cut -f1) MiB fio + libraries)" >&2

# --- Configurations: one shell function case each; cfg 0 is vmkit when it runs.
CMDLINE="console=ttyS0 quiet panic=-1 vmkit.test=fio vmkit.fio_runtime=$runtime"
IMG=/scratch/disk.img
FIO_L1=/data/initrd-fio.cpio
DIMG=/disk/disk.img
names=() cases="" n=0 groups=()
vmkit_cfg() {   # NAME IMG CACHE
    names+=("$1")
    cases+="    $n) run_one '$1' vmkit-api-test --kernel \"\$GUEST_KERNEL\" --initrd $FIO_L1 --cpus $cpus --memory $MEM --disk $2,cache=$3 --cmdline \"\$CMDLINE\" --timeout \$VMM_TIMEOUT ;;
"
    n=$((n + 1))
}
qemu_cfg() {    # NAME IMG CACHE AIO
    names+=("$1")
    cases+="    $n) run_one '$1' qemu-system-x86_64 -L /data -enable-kvm -cpu host -M $machine -smp $cpus -m $MEM -nodefaults -no-user-config -no-reboot -display none -serial stdio -kernel \"\$GUEST_KERNEL\" -initrd $FIO_L1 -append \"\$CMDLINE\" -object iothread,id=io0 -drive file=$2,if=none,id=d0,format=raw,cache=$3,aio=$4 -device virtio-blk-pci,drive=d0,iothread=io0 ;;
"
    n=$((n + 1))
}
IFS=, read -r -a aio_list <<< "$aios"
if [[ $tmpfs == 1 ]]; then
    g=""
    [[ $vmkit == 1 ]] && { vmkit_cfg vmkit $IMG cached; g=vmkit; }
    for a in "${aio_list[@]}"; do qemu_cfg "qemu-$a" $IMG writeback "$a"; g+=" qemu-$a"; done
    groups+=("tmpfs|$g")
fi
if [[ $on_disk == 1 ]]; then
    a=${aio_list[0]}
    for pair in cached:writeback uncached:none; do
        vc=${pair%:*} qc=${pair#*:} g=""
        [[ $vmkit == 1 ]] && { vmkit_cfg "vmkit-ext4-$vc" $DIMG "$vc"; g="vmkit-ext4-$vc"; }
        qemu_cfg "qemu-ext4-$qc" $DIMG "$qc" "$a"; g+=" qemu-ext4-$qc"
        groups+=("ext4-$vc|$g")
    done
fi
ncfg=$n
# Guest boot (~10 s in L1) + 4 jobs x (ramp + runtime) + fio start-up, generously.
vmm_timeout=$((240 + 8 * (runtime + 1)))

cat > "$work/l1.sh" <<EOF
#!/bin/sh
# Generated by bench/storage.sh: runs in L1.
CMDLINE='$CMDLINE'
VMM_TIMEOUT=$vmm_timeout
if [ $tmpfs = 1 ]; then
    mkdir -p /scratch && mount -t tmpfs -o size=$((image_mib + 64))m tmpfs /scratch || exit 1
    dd if=/dev/zero of=$IMG bs=1M count=$image_mib 2>/dev/null || exit 1
    echo "BENCH-IMAGE \$(ls -l $IMG)"
fi
if [ $on_disk = 1 ]; then
    # busybox's ash runs its own mke2fs applet first: call e2fsprogs' by path.
    /bin/mke2fs -q -t ext4 -F /dev/vda || exit 1
    mkdir -p /disk && mount -t ext4 /dev/vda /disk || exit 1
    dd if=/dev/zero of=$DIMG bs=1M count=$image_mib conv=fsync 2>/dev/null || exit 1
    echo "BENCH-IMAGE \$(ls -l $DIMG) on \$(grep ' /disk ' /proc/mounts)"
fi
echo "BENCH-L1 \$(uname -r) mem: \$(grep MemTotal /proc/meminfo)"
run_one() {
    name=\$1; shift
    r=\$(vmmrun -o /tmp/con.log -g $MEM -t \$VMM_TIMEOUT -m ready=VMKIT-GUEST-READY -m done=FIO-DONE -- "\$@")
    echo "BENCH phase=\$phase round=\$i cfg=\$name \$r"
    tr -d '\r' < /tmp/con.log | grep -E '^FIO' | sed "s/^/BENCH-\$phase round=\$i cfg=\$name /"
    case \$r in *rc=0\ *) ;; *) echo "BENCH-FAIL cfg=\$name"; tail -n 30 /tmp/con.log ;; esac
}
run_cfg() {
    case \$1 in
$cases    esac
}
order=\$(seq 0 $((ncfg - 1)))
rorder=\$(seq $((ncfg - 1)) -1 0)
i=0
if [ $warmup = 1 ]; then phase=warmup; for c in \$order; do run_cfg \$c; done; fi
phase=run
i=1
while [ \$i -le $rounds ]; do
    if [ \$((i % 2)) = 1 ]; then o=\$order; else o=\$rorder; fi
    for c in \$o; do run_cfg \$c; done
    i=\$((i + 1))
done
[ $tmpfs = 1 ] && umount /scratch
[ $on_disk = 1 ] && umount /disk
echo BENCH-DONE
EOF

files=("$work/vmmrun" "$FI")
[[ $on_disk == 1 ]] && files+=(/sbin/mke2fs)
[[ $vmkit == 1 ]] && files+=("$work/vmkit-api-test")
mapfile -t qf < <("$ROOT/tests/nested/qemu-files.sh")
files+=("${qf[@]}")

echo "storage.sh: $ncfg configurations x $rounds rounds in L1 (console in bench/results)" >&2
l1_mem=3072 l1_args=()
[[ $tmpfs == 1 ]] && l1_mem=$((l1_mem + image_mib))
# The cached ext4 runs keep the image in L1's page cache.
[[ $on_disk == 1 ]] && { l1_mem=$((l1_mem + image_mib)); l1_args=(--disk-mib $((image_mib + 512))); }
bench_run_l1 storage --mem $l1_mem "${l1_args[@]}" \
    --timeout $((600 + (rounds + warmup) * ncfg * (vmm_timeout / 2))) -- "$work/l1.sh" "${files[@]}"

{
    echo "## Storage benchmark (virtio-blk), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "\`$invocation\`; $rounds rounds, alternating, medians; fio $(LD_LIBRARY_PATH=$(bench_libpath "$X") "$FIO" --version) in the guest"
    echo "(libaio, direct=1, ${runtime} s per job after a 1 s ramp) on /dev/vda; $cpus vCPU, $MEM MiB;"
    echo "raw ${image_mib} MiB image in L1 (QEMU TCG, nested KVM); QEMU \`-M $machine\`, virtio-blk-pci + iothread;"
    echo "guest kernel $(cat "$G/kernel-release" 2>/dev/null || echo '?')."
    for grp in "${groups[@]}"; do
    gname=${grp%%|*}
    read -r -a gcfgs <<< "${grp#*|}"
    echo
    case $gname in
        tmpfs) echo "**Image on a tmpfs in L1**, host page cache (vmkit cache=cached, QEMU cache=writeback):" ;;
        ext4-cached) echo "**Image on ext4 on L1's disk**, page cache (vmkit cache=cached, QEMU cache=writeback):" ;;
        ext4-uncached) echo "**Image on ext4 on L1's disk**, O_DIRECT (vmkit cache=uncached, QEMU cache=none):" ;;
    esac
    echo
    tr -d '\r' < "$log" | awk -v names="$(printf '%s\n' "${gcfgs[@]}")" "$BENCH_AWK_MED"'
    function kv(s,   i, p) { delete f; for (i = 1; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) } }
    BEGIN { nc = split(names, cn, "\n"); if (cn[nc] == "") nc--
            nm = split("randread-qd1:IOPS randread-qd1:LAT randread-qd32:IOPS seqread:BW seqwrite:BW cpu", M, " ")
            hdr["randread-qd1:IOPS"] = "4K randread QD1 (IOPS)"; hdr["randread-qd1:LAT"] = "4K randread QD1 mean latency (us)"
            hdr["randread-qd32:IOPS"] = "4K randread QD32 (IOPS)"; hdr["seqread:BW"] = "1M seq read QD8 (MiB/s)"
            hdr["seqwrite:BW"] = "1M seq write QD8 (MiB/s)"; hdr["cpu"] = "VMM process CPU per run, user+sys incl. guest vCPU time and boot (s)" }
    /^BENCH phase=run / { kv(); c = f["cfg"]; runs[c]++; if (f["rc"] != 0) fail[c]++
                          else { k = ++nn[c, "cpu"]; V[c, "cpu", k] = (f["user_us"] + f["sys_us"]) / 1e6 } }
    /^BENCH-run .* FIO / { kv(); c = f["cfg"]; j = $5
        if (f["ERR"] != 0) { ferr[c]++; next }
        k = ++nn[c, j ":IOPS"]; V[c, j ":IOPS", k] = f["IOPS"]
        k = ++nn[c, j ":LAT"]; V[c, j ":LAT", k] = f["LAT_US"]
        k = ++nn[c, j ":BW"]; V[c, j ":BW", k] = f["BW_KIBS"] / 1024 }
    END {
        printf "| metric |"; for (ci = 1; ci <= nc; ci++) printf " %s |", cn[ci]
        ref = ""; for (ci = 1; ci <= nc; ci++) if (ref == "" && cn[ci] ~ /^qemu/) ref = cn[ci]
        hasr = (cn[1] ~ /^vmkit/ && ref != "")
        if (hasr) printf " %s / %s |", cn[1], ref
        printf "\n|---|"; for (ci = 1; ci <= nc + hasr; ci++) printf "---|"; printf "\n"
        for (m = 1; m <= nm; m++) {
            printf "| %s |", hdr[M[m]]
            for (ci = 1; ci <= nc; ci++) {
                c = cn[ci]; n = nn[c, M[m]] + 0
                delete a; for (k = 1; k <= n; k++) a[k] = V[c, M[m], k]
                v[c] = med(a, n)
                if (n == 0) printf " - |"
                else printf (v[c] >= 100 ? " %.0f |" : " %.2f |"), v[c]
            }
            if (hasr) printf (v[ref] > 0 && v[cn[1]] >= 0) ? " **%.2f** |" : " - |", (v[ref] > 0) ? v[cn[1]] / v[ref] : 0
            printf "\n"
        }
        printf "| runs (failed VMM runs / failed fio jobs) |"
        for (ci = 1; ci <= nc; ci++) printf " %d (%d / %d) |", runs[cn[ci]], fail[cn[ci]], ferr[cn[ci]]
        if (hasr) printf " |"
        printf "\n"
    }'
    done
    echo
    echo "Per-run values (IOPS for randread, MiB/s for seq):"
    echo
    tr -d '\r' < "$log" | awk '/^BENCH-run .* FIO / {
        delete f; for (i = 1; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) }
        x = ($5 ~ /^seq/) ? sprintf("%.0f", f["BW_KIBS"] / 1024) : f["IOPS"]
        key = f["cfg"] " " $5; if (!(key in s)) { order[++no] = key; s[key] = x } else s[key] = s[key] ", " x }
        END { for (i = 1; i <= no; i++) printf "- %s: %s\n", order[i], s[order[i]] }'
} | tee "$md"
echo "storage.sh: wrote $md" >&2
