#!/usr/bin/env bash
# usage: tools/guest/build-grub-iso.sh   builds (or reuses) the UEFI GRUB ISO of the test guest; prints its path
#
# A bootable UEFI ISO (grub-mkrescue) holding the test guest (tools/guest/build-guest.sh --efi):
# OVMF → \EFI\BOOT\BOOTX64.EFI of the ISO's EFI system partition → GRUB (serial console,
# timeout 0) → Linux with `console=ttyS0 panic=-1 quiet vmkit.test=efi-iso`, which prints
# VMKIT-GUEST-READY and, with a blank writable second disk, installs the system there
# (tools/guest/tests/efi-iso.sh); with no such disk it powers off.
# Attach it read-only as a virtio-blk disk:
#   vmkit --bootloader efi,variable-store=vars.fd,create --device virtio-blk,path=ISO,readonly ...
#
# ISO contents: /boot/grub/grub.cfg (+ GRUB's modules), /vmkit/vmlinuz, /vmkit/initrd.gz (the
# efi initrd variant), /vmkit/grubx64.efi: a standalone GRUB for the installed disk
# (grub-mkstandalone, embedded grub.cfg: finds /EFI/vmkit/vmlinuz on any partition and boots it
# with vmkit.test=efi-disk).
# Inputs are Debian packages, apt-get download + dpkg -x into the cache (no root state):
# grub-common (grub-mkrescue, grub-mkstandalone), grub-efi-amd64-bin, mtools, libefivar1,
# libefiboot1; xorriso comes from the host (scripts/deps.sh). Output: $VMK_GUEST_DIR/vmkit-grub.iso
# (the guest folder of build-guest.sh), rebuilt only when its inputs change.
#
# usage: tools/guest/build-grub-iso.sh --client EXTRA.cpio.gz
#   the vfkit clients' disk (tests/integration/nested-clients.sh): no GRUB output (those
#   command lines have no UART), Linux with `console=hvc0 vmkit.console=hvc0
#   vmkit.test=client` and the base initrd with EXTRA appended (socat); no installer files.
#   Output: $VMK_GUEST_DIR/vmkit-grub-client.iso
set -euo pipefail
exec </dev/null
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

extra=
if [[ ${1:-} == --client ]]; then
    extra=$(realpath "${2:?--client needs the extra initrd archive}")
fi
"$HERE/build-guest.sh" --efi >/dev/null
CACHE=$("$HERE/build-guest.sh" --print-dir)
G=$("$HERE/build-guest.sh" --print-guest-dir)
log() { echo "build-grub-iso: $*" >&2; }
command -v xorriso >/dev/null || { log "xorriso is missing (scripts/deps.sh)"; exit 1; }

fetch_pkg() { "$HERE/build-guest.sh" --fetch "$1"; }   # shares build-guest.sh's package cache
mkdir -p "$CACHE/debs"
common=$(fetch_pkg grub-common)
efibin=$(fetch_pkg grub-efi-amd64-bin)
mtools=$(fetch_pkg mtools)
lp=$(fetch_pkg libefivar1)/usr/lib/x86_64-linux-gnu:$(fetch_pkg libefiboot1)/usr/lib/x86_64-linux-gnu
mods=$efibin/usr/lib/grub/x86_64-efi
[[ -x $common/usr/bin/grub-mkrescue && -f $mods/linux.mod ]] || { log "unexpected package layout"; exit 1; }

iso=$G/vmkit-grub.iso
cmdline="console=ttyS0 panic=-1 quiet"
stampf=$G/.stamp-iso
[[ -z $extra ]] || { iso=$G/vmkit-grub-client.iso; stampf=$G/.stamp-iso-client; }
stamp=$( { cat "${BASH_SOURCE[0]}" "$G/.stamp-efi"; ls "$CACHE/debs"/{grub-common,grub-efi-amd64-bin,mtools}_*.deb;
           [[ -z $extra ]] || cat "$extra"; } | sha256sum | cut -c1-32)
if [[ -f $iso && -f $stampf && $(cat "$stampf") == "$stamp" ]]; then
    echo "$iso"
    exit 0
fi

work=$(mktemp -d "$G/.iso.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The GRUB tools find mformat/mcopy on PATH, their data (fonts) through $pkgdatadir and the
# platform's modules through -d.
grub() {
    PATH=$common/usr/bin:$mtools/usr/bin:$PATH LD_LIBRARY_PATH=$lp pkgdatadir=$common/usr/share/grub "$@"
}
if [[ -n $extra ]]; then
    mkdir -p "$work/iso/boot/grub" "$work/iso/vmkit"
    printf '%s\n' 'set timeout=0' 'menuentry "vmkit client guest" {' \
        '    linux /vmkit/vmlinuz console=hvc0 panic=-1 quiet vmkit.console=hvc0 vmkit.test=client' \
        '    initrd /vmkit/initrd.gz /vmkit/extra.gz' '}' >"$work/iso/boot/grub/grub.cfg"
    cp "$G/vmlinuz" "$work/iso/vmkit/vmlinuz"
    cp "$G/initrd.cpio.gz" "$work/iso/vmkit/initrd.gz"
    cp "$extra" "$work/iso/vmkit/extra.gz"
    grub grub-mkrescue -d "$mods" --locales= --fonts= --themes= -o "$work/out.iso" "$work/iso" \
        -- -volid VMKITCLIENT >"$work/mkrescue.log" 2>&1 || { cat "$work/mkrescue.log" >&2; exit 1; }
    chmod 0644 "$work/out.iso"
    mv "$work/out.iso" "$iso"
    echo "$stamp" >"$stampf.tmp" && mv "$stampf.tmp" "$stampf"
    log "built $iso"
    echo "$iso"
    exit 0
fi
serial='serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0'

# The installed disk's GRUB: one file, its configuration and modules inside (a memdisk).
cat >"$work/disk.cfg" <<EOF
$serial
echo "VMKIT-GRUB-DISK"
insmod part_gpt
insmod fat
search --no-floppy --file /EFI/vmkit/vmlinuz --set=root
linux /EFI/vmkit/vmlinuz $cmdline vmkit.test=efi-disk
initrd /EFI/vmkit/initrd.gz
boot
EOF
mkdir -p "$work/iso/boot/grub" "$work/iso/vmkit"
# Every module goes into the memdisk (--install-modules would need each dependency listed).
grub grub-mkstandalone -O x86_64-efi -d "$mods" --locales= --fonts= --themes= \
    -o "$work/iso/vmkit/grubx64.efi" "boot/grub/grub.cfg=$work/disk.cfg" >&2

# The ISO's menu is also graphical (gfxterm on the firmware's GOP, when it has a framebuffer)
# and waits 3 s for a key from the firmware's keyboard: p picks the second entry.
cat >"$work/iso/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
insmod all_video
insmod gfxterm
if loadfont unicode; then
    terminal_output serial gfxterm
else
    terminal_output serial
fi
terminal_input serial console
set timeout=3
echo "VMKIT-GRUB-ISO"
menuentry "vmkit test guest" {
    linux /vmkit/vmlinuz $cmdline vmkit.test=efi-iso
    initrd /vmkit/initrd.gz
}
menuentry "vmkit test guest, picked by key" --hotkey=p {
    linux /vmkit/vmlinuz $cmdline vmkit.test=efi-iso vmkit.picked=p
    initrd /vmkit/initrd.gz
}
EOF
cp "$G/vmlinuz" "$work/iso/vmkit/vmlinuz"
cp "$G/initrd-efi.cpio.gz" "$work/iso/vmkit/initrd.gz"
grub grub-mkrescue -d "$mods" --locales= --fonts=unicode --themes= -o "$work/out.iso" "$work/iso" \
    -- -volid VMKITGRUB >"$work/mkrescue.log" 2>&1 || { cat "$work/mkrescue.log" >&2; exit 1; }
chmod 0644 "$work/out.iso"
mv "$work/out.iso" "$iso"
echo "$stamp" >"$G/.stamp-iso.tmp" && mv "$G/.stamp-iso.tmp" "$G/.stamp-iso"
log "built $iso ($(( $(stat -c %s "$iso") / 1048576 )) MiB)"
echo "$iso"
