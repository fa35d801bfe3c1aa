#!/usr/bin/env bash
# Builds the stock Linux guest used by vmkit's tests: a Debian cloud kernel and a busybox
# initramfs whose /init loads the virtio modules, prints a ready marker and runs a named test.
#
#   tools/guest/build-guest.sh              build (or reuse) and print the paths
#   tools/guest/build-guest.sh --print-dir  print the cache folder only
#   tools/guest/build-guest.sh --print-guest-dir  print the output folder only
#   tools/guest/build-guest.sh --fetch NAME   extract Debian package NAME into the cache
#                                             (once) and print its folder
#   tools/guest/build-guest.sh --efi        also build initrd-efi.cpio.gz (see below)
#
# Everything comes from Debian packages (apt-get download + dpkg -x), so no root state is
# touched and the cache (${VMK_CACHE:-/var/cache/vmkit}) is reused across runs and checkouts.
# Outputs (in $VMK_GUEST_DIR, default $CACHE/guest/; a separate folder lets two checkouts
# with different guest scripts build side by side without replacing each other's initrd):
#   vmlinuz            kernel of linux-image-cloud-amd64's versioned package
#   initrd.cpio.gz     busybox + modules + /init + /tests/*.sh
#   kernel-release     e.g. 6.1.0-56-cloud-amd64
#   modules/           symlink to the extracted /lib/modules/<release>/kernel tree (the nested
#                      rig takes kvm.ko etc. from here, so L1 and L2 run the same kernel)
#   busybox            the static busybox (the nested rig reuses it)
#   initrd-efi.cpio.gz (--efi) initrd.cpio.gz with a second archive appended: sfdisk (fdisk),
#                      mkfs.vfat (dosfstools) and efibootmgr with their shared libraries and
#                      the ELF interpreter, under /opt/vmkit/bin (call them by that path:
#                      busybox's shell prefers its own applets). Used by the EFI install tests
#                      (tools/guest/tests/efi-*.sh) and tools/guest/build-grub-iso.sh.
set -euo pipefail
exec </dev/null                         # never wait for input (apt, cpio)

CACHE=${VMK_CACHE:-/var/cache/vmkit}
# Without root the default is not writable: fall back to the user's cache.
if [[ -z ${VMK_CACHE:-} ]] && ! { mkdir -p "$CACHE" && [[ -w $CACHE ]]; } 2>/dev/null; then
    CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/vmkit
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

G=${VMK_GUEST_DIR:-$CACHE/guest}
if [[ ${1:-} == --print-dir ]]; then echo "$CACHE"; exit 0; fi
if [[ ${1:-} == --print-guest-dir ]]; then echo "$G"; exit 0; fi
want_efi=0
if [[ ${1:-} == --efi ]]; then want_efi=1; fi

log() { echo "build-guest: $*" >&2; }
mkdir -p "$CACHE/debs" "$CACHE/pkg" "$G"
# One builder at a time: two test runs (or checkouts) sharing the cache must not unpack the
# same package over each other.
exec 9>"$CACHE/.build-guest.lock"
flock 9

# fetch_pkg NAME -> prints the folder NAME's newest candidate is extracted to.
# A package that is already extracted is reused without asking apt again.
fetch_pkg() {
    local name=$1 dir="$CACHE/pkg/$1" deb
    if [[ ! -e $dir/.done ]]; then
        log "downloading $name"
        (cd "$CACHE/debs" && apt-get download -q "$name" >&2 2>/dev/null) ||
            (cd "$CACHE/debs" && apt-get download "$name" >&2)
        deb=$(ls -t "$CACHE/debs/${name}"_*.deb | head -n1)
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        dpkg -x "$deb" "$dir.tmp"
        rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.done"
    fi
    echo "$dir"
}
if [[ ${1:-} == --fetch ]]; then fetch_pkg "${2:?package name}"; exit 0; fi

# The meta package only depends on the versioned kernel package; resolve it so the cache is
# keyed by the exact kernel. When apt cannot answer (offline, no lists), reuse the newest
# kernel already in the cache.
kpkg=$(apt-cache show --no-all-versions linux-image-cloud-amd64 2>/dev/null |
       sed -n 's/^Depends: *\(linux-image-[^ ,]*-cloud-amd64\).*/\1/p' | head -n1 || true)
if [[ -z $kpkg ]]; then
    kpkg=$(cd "$CACHE/pkg" && ls -d linux-image-*-cloud-amd64 2>/dev/null | sort -V | tail -n1 || true)
    [[ -n $kpkg ]] || { log "cannot resolve linux-image-cloud-amd64 (apt-get update?)"; exit 1; }
fi
kdir=$(fetch_pkg "$kpkg")
bbdir=$(fetch_pkg busybox-static)
krel=${kpkg#linux-image-}
kmod="$kdir/lib/modules/$krel/kernel"
BB="$bbdir/bin/busybox"
[[ -f $kdir/boot/vmlinuz-$krel && -d $kmod && -x $BB ]] || { log "unexpected package layout"; exit 1; }

# Nothing to do when the inputs (these scripts, the kernel and busybox) are unchanged.
stamp=$( { cat "$HERE/build-guest.sh" "$HERE/init" "$HERE/rc.main" "$HERE/inittab" "$HERE"/tests/*.sh;
           echo "$kpkg"; stat -c '%s %Y' "$BB" "$kdir/boot/vmlinuz-$krel"; } | sha256sum | cut -c1-32)
base_fresh=0
if [[ -f $G/.stamp && $(cat "$G/.stamp") == "$stamp" && -f $G/initrd.cpio.gz && -f $G/vmlinuz ]]; then
    base_fresh=1
fi

build_base() {
# Modules wanted in the guest, in the order they should load once dependencies are met.
# evdev + button give /dev/input/event* for the ACPI power button (acpid reads it);
# virtio_mmio covers VMMs that use virtio-mmio instead of PCI; isofs (which needs cdrom)
# mounts ISO 9660 images attached as read-only disks; efivarfs (UEFI variables), vfat and
# the code pages it uses (the EFI system partition) serve the EFI install tests;
# vmw_vsock_virtio_transport (with vsock) the virtio-vsock tests, virtiofs (with fuse) the
# shared-directory tests, virtio_input the keyboard and pointer tests.
WANT=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
      virtio_blk failover net_failover virtio_net virtio_console rng-core virtio-rng
      virtio_balloon evdev button cdrom isofs efivarfs fat vfat nls_cp437 nls_ascii
      nls_iso8859_1 nls_utf8 vmw_vsock_virtio_transport virtiofs virtio_input)

# Module names use '_' where file names may use '-'; index every .ko by normalized name.
declare -A KO=()
while IFS= read -r f; do
    b=$(basename "$f"); b=${b%%.ko*}; KO[${b//-/_}]=$f
done < <(find "$kmod" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')

ko_cat() {    # decompress on the host: busybox insmod only takes plain ELF
    case $1 in
        *.xz) xz -dc "$1" ;; *.zst) zstd -qdc "$1" ;; *.gz) gzip -dc "$1" ;; *) cat "$1" ;;
    esac
}
# There is no modules.dep in the package; .modinfo's "depends=" lists each module's needs.
ko_deps() { ko_cat "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '; }

declare -A SEEN=()
ORDER=()
visit() {     # depth-first: dependencies before the module itself
    local n=${1//-/_} d
    [[ -n ${SEEN[$n]:-} ]] && return 0
    SEEN[$n]=1
    # Built-in (e.g. rng-core when HW_RANDOM=y) or absent: nothing to load.
    [[ -n ${KO[$n]:-} ]] || return 0
    for d in $(ko_deps "${KO[$n]}"); do visit "$d"; done
    ORDER+=("$n")
}
for m in "${WANT[@]}"; do visit "$m"; done

# Build the tree in a temp folder and only replace the cached initrd when its content
# changed (reproducible cpio), so concurrent users see either the old or the new file.
work=$(mktemp -d "$G/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/acpi,proc,sys,dev,tmp,run,root,var/log,lib/modules,tests}
cp "$BB" "$root/bin/busybox"
while read -r p; do                      # applet links; never replace busybox itself
    [[ $p == bin/busybox || -e $root/$p || -L $root/$p ]] && continue
    mkdir -p "$root/$(dirname "$p")"
    ln -s /bin/busybox "$root/$p"
done < <("$BB" --list-full)
for n in "${ORDER[@]}"; do ko_cat "${KO[$n]}" > "$root/lib/modules/$n.ko"; done
printf '%s\n' "${ORDER[@]}" > "$root/etc/modules"
echo "$krel" > "$root/etc/kernel-release"

install -m 0755 "$HERE/init" "$root/init"
install -m 0755 "$HERE/rc.main" "$root/etc/rc.main"
install -m 0644 "$HERE/inittab" "$root/etc/inittab"
# busybox acpid: an event whose text contains PWRF (power button pressed) runs
# /etc/acpi/power, which asks init for a clean poweroff.
echo "PWRF power" > "$root/etc/acpid.conf"
printf '#!/bin/sh\necho "VMKIT-GUEST-POWER-BUTTON" > /dev/console\nexec poweroff\n' > "$root/etc/acpi/power"
chmod 0755 "$root/etc/acpi/power"
echo 'root::0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
for t in "$HERE"/tests/*.sh; do install -m 0755 "$t" "$root/tests/"; done
# The kernel opens /dev/console for init before devtmpfs is mounted; without this node
# init starts with no stdio. Needs root; otherwise /init reopens the console itself.
mknod -m 0600 "$root/dev/console" c 5 1 2>/dev/null || true

find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$work/initrd.cpio.gz"

if ! cmp -s "$work/initrd.cpio.gz" "$G/initrd.cpio.gz"; then
    mv "$work/initrd.cpio.gz" "$G/initrd.cpio.gz"
    log "initrd rebuilt (${#ORDER[@]} modules: ${ORDER[*]})"
fi
if ! cmp -s "$kdir/boot/vmlinuz-$krel" "$G/vmlinuz"; then
    cp "$kdir/boot/vmlinuz-$krel" "$G/.vmlinuz.tmp" && mv "$G/.vmlinuz.tmp" "$G/vmlinuz"
fi
cmp -s "$BB" "$G/busybox" || { cp "$BB" "$G/.busybox.tmp" && mv "$G/.busybox.tmp" "$G/busybox"; }
echo "$krel" > "$G/.kr.tmp" && mv "$G/.kr.tmp" "$G/kernel-release"
ln -sfn "$kmod" "$G/.modules.tmp" && mv -T "$G/.modules.tmp" "$G/modules"
echo "$stamp" > "$G/.stamp.tmp" && mv "$G/.stamp.tmp" "$G/.stamp"
rm -rf "$work"
trap - EXIT
}
[[ $base_fresh == 1 ]] || build_base

# --efi: the tools the EFI install test runs in the guest, as a second archive appended to the
# stock initrd (the kernel unpacks concatenated archives in order), so the default initrd stays
# small. Binaries and libraries come from Debian packages; a library the packages do not
# carry comes from this host (same release).
EFI_PKGS=(fdisk libfdisk1 dosfstools efibootmgr libefivar1 libefiboot1)
build_efi() {
    local estamp x o lp b lib dst
    estamp=$( { cat "$G/.stamp"; printf '%s\n' "${EFI_PKGS[@]}"; } | sha256sum | cut -c1-32)
    [[ -f $G/.stamp-efi && $(cat "$G/.stamp-efi") == "$estamp" && -f $G/initrd-efi.cpio.gz ]] && return 0
    x=$(mktemp -d "$G/.efi.XXXXXX")
    mkdir -p "$x/pkg"
    trap 'rm -rf "$x"' EXIT
    for b in "${EFI_PKGS[@]}"; do cp -a "$(fetch_pkg "$b")/." "$x/pkg/"; done
    o=$x/overlay
    mkdir -p "$o/opt/vmkit/bin"
    lp=$x/pkg/usr/lib/x86_64-linux-gnu:$x/pkg/lib/x86_64-linux-gnu
    for b in sbin/sfdisk sbin/mkfs.fat bin/efibootmgr; do
        [[ -f $x/pkg/$b ]] || { log "no $b in ${EFI_PKGS[*]}"; exit 1; }
        cp -L "$x/pkg/$b" "$o/opt/vmkit/bin/"
        ! LD_LIBRARY_PATH=$lp ldd "$x/pkg/$b" | grep 'not found' >&2 || { log "$b: libraries missing"; exit 1; }
        while read -r lib; do
            dst=${lib#"$x/pkg"}
            [[ -e $o$dst ]] && continue
            mkdir -p "$o$(dirname "$dst")"
            cp -L "$lib" "$o$dst"
        done < <(LD_LIBRARY_PATH=$lp ldd "$x/pkg/$b" |
                 sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
    done
    ln -s mkfs.fat "$o/opt/vmkit/bin/mkfs.vfat"
    find "$o" -exec touch -h -d @0 {} +
    {
        cat "$G/initrd.cpio.gz"
        (cd "$o" && find . -mindepth 1 | LC_ALL=C sort |
            cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n
    } > "$x/initrd-efi.cpio.gz"
    mv "$x/initrd-efi.cpio.gz" "$G/initrd-efi.cpio.gz"
    echo "$estamp" > "$G/.stamp-efi.tmp" && mv "$G/.stamp-efi.tmp" "$G/.stamp-efi"
    log "initrd-efi rebuilt ($(du -sk "$o" | cut -f1) KiB of tools)"
    rm -rf "$x"
    trap - EXIT
}
[[ $want_efi == 0 ]] || build_efi

echo "kernel:  $G/vmlinuz"
echo "initrd:  $G/initrd.cpio.gz"
[[ $want_efi == 0 ]] || echo "initrd-efi: $G/initrd-efi.cpio.gz"
echo "release: $krel"
