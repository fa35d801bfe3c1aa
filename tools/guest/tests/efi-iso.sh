#!/bin/sh
# Booted from the GRUB ISO (tools/guest/build-grub-iso.sh): firmware -> GRUB -> Linux.
# Prints how the guest was booted; with a blank writable disk next to the ISO, "installs" the
# system there: GPT with one EFI system partition (sfdisk), FAT32 (mkfs.vfat), the ISO's
# standalone GRUB + kernel + initrd under \EFI\vmkit\ (no \EFI\BOOT\BOOTX64.EFI, so only the
# boot entry can start it), and a boot entry "vmkit" (efibootmgr). Tools from initrd-efi.
B=/opt/vmkit/bin
[ -d /sys/firmware/efi ] && echo "EFI-BOOTED=uefi" || echo "EFI-BOOTED=bios"
# The firmware's linear framebuffer, when it had one (a VGA-compatible GPU): Linux's efifb takes
# it over and fbcon shows tty1 there.
echo "EFI-PICKED=$(sed -n 's/.*vmkit.picked=\([a-z]\).*/\1/p' /proc/cmdline)"
if [ -e /sys/class/graphics/fb0/name ]; then
    printf '\033[2J\033[HVMKIT EFIFB TEXT\n' >/dev/tty1
    echo "EFI-FB=$(cat /sys/class/graphics/fb0/name | tr ' ' _) $(cat /sys/class/graphics/fb0/virtual_size)"
fi
mount -t efivarfs efivarfs /sys/firmware/efi/efivars || echo "EFI-EFIVARFS=failed"
iso= target=
for d in /sys/block/vd* /sys/block/sr*; do
    n=${d##*/}
    [ -b "/dev/$n" ] || continue
    if [ "$(dd if=/dev/$n bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ]; then
        [ -n "$iso" ] || iso=$n
    elif [ "$(cat $d/ro)" = 0 ] && [ -z "$target" ]; then
        target=$n
    fi
done
echo "EFI-ISO=${iso:-none} EFI-ISO-RO=$(cat /sys/block/$iso/ro 2>/dev/null) EFI-TARGET=${target:-none}"
[ -n "$iso" ] || exit 1
[ -n "$target" ] || exit 0
[ -x $B/efibootmgr ] || { echo "EFI-INSTALL: no tools (initrd-efi?)"; exit 1; }

mkdir -p /iso /esp
mount -t iso9660 -o ro /dev/$iso /iso || exit 1
printf 'label: gpt\nstart=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"\n' |
    $B/sfdisk -q /dev/$target || { echo "EFI-INSTALL: sfdisk failed"; exit 1; }
for i in $(seq 50); do [ -b /dev/${target}1 ] && break; sleep 0.1; done
$B/mkfs.vfat -F 32 -n VMKITESP /dev/${target}1 >/dev/null || { echo "EFI-INSTALL: mkfs failed"; exit 1; }
mount -t vfat /dev/${target}1 /esp || exit 1
mkdir -p /esp/EFI/vmkit
cp /iso/vmkit/grubx64.efi /iso/vmkit/vmlinuz /iso/vmkit/initrd.gz /esp/EFI/vmkit/ || exit 1
ls -l /esp/EFI/vmkit
[ -e /esp/EFI/BOOT ] && echo "EFI-FALLBACK=present" || echo "EFI-FALLBACK=absent"
umount /esp && umount /iso
sync
$B/efibootmgr -c -d /dev/$target -p 1 -L vmkit -l '\EFI\vmkit\grubx64.efi' || { echo "EFI-INSTALL: efibootmgr failed"; exit 1; }
$B/efibootmgr -v
num=$($B/efibootmgr | sed -n 's/^Boot\([0-9A-F]\{4\}\)\*\{0,1\} vmkit.*/\1/p' | head -n1)
[ -n "$num" ] || exit 1
echo "EFI-INSTALLED=Boot$num"
