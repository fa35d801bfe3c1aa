#!/bin/sh
# Booted from the installed disk (efi-iso.sh made it) through its boot entry. Prints the boot
# variables, then takes the next step of the EFI test chain, kept in a UEFI variable of our
# own (so the step itself proves non-volatile variables persist):
#   (none)    BootNext := the EFI shell's entry, step bootnext, reboot (the host resets the shell)
#   bootnext  BootNext was used once: back on the vmkit entry; step writes, power off
#   writes    step verify, then writes variables in a loop until the VMM is killed
#   verify    the store survived: the loop variables are readable; power off
# efivarfs marks variables it finds at boot immutable (only its known ones are removable) and
# busybox has no chattr: each step is a variable of its own, created once, never rewritten.
B=/opt/vmkit/bin
E=/sys/firmware/efi/efivars
G=5ee0c5a4-6e3b-4d2a-9a55-766d6b697421
mount -t efivarfs efivarfs $E || echo "EFI-EFIVARFS=failed"
$B/efibootmgr
cur=$($B/efibootmgr | sed -n 's/^BootCurrent: //p')
num=$($B/efibootmgr | sed -n 's/^Boot\([0-9A-F]\{4\}\)\*\{0,1\} vmkit.*/\1/p' | head -n1)
order=$($B/efibootmgr | sed -n 's/^BootOrder: //p')
echo "EFI-BOOT-CURRENT=$cur EFI-VMKIT-ENTRY=$num EFI-BOOTORDER=$order"
[ -n "$num" ] && [ "$cur" = "$num" ] && echo "EFI-BOOTED-FROM=vmkit"
[ "${order%%,*}" = "$num" ] && echo "EFI-BOOTORDER-FIRST=vmkit"
$B/efibootmgr | grep -q '^BootNext' && echo "EFI-BOOTNEXT-PENDING"

# setvar FILE TEXT: attributes NV+BS+RT (7, little-endian) then TEXT, in one write, without
# truncating (a variable created in this boot can be rewritten that way).
setvar() { printf '\007\000\000\000%s' "$2" >/tmp/var && dd if=/tmp/var of="$1" bs=4096 conv=notrunc 2>/dev/null; }
step=
for s in bootnext writes verify; do [ -e $E/VmkitStep-$s-$G ] && step=$s; done
echo "EFI-STEP=${step:-none}"
case $step in
"")
    shell=$($B/efibootmgr | sed -n 's/^Boot\([0-9A-F]\{4\}\)\*\{0,1\} EFI Internal Shell.*/\1/p' | head -n1)
    [ -n "$shell" ] || { echo "EFI-NO-SHELL-ENTRY"; exit 1; }
    $B/efibootmgr -q -n $shell || exit 1
    setvar $E/VmkitStep-bootnext-$G 1 || exit 1
    echo "EFI-BOOTNEXT-SET=$shell"
    $B/efibootmgr | grep '^BootNext'
    sync
    reboot -f
    sleep 60
    ;;
bootnext)
    setvar $E/VmkitStep-writes-$G 1 || exit 1
    echo "EFI-BOOTNEXT-DONE"
    ;;
writes)
    setvar $E/VmkitStep-verify-$G 1 || exit 1
    # 1 KiB values over 8 variables, back to back: most of the time is spent in flash writes.
    x=$(head -c 1000 /dev/zero | tr '\0' x)
    i=0
    while [ $i -lt 2000 ]; do
        i=$((i + 1))
        setvar $E/VmkitLoop$((i % 8))-$G "loop=$i $x" || { echo "EFI-WRITE-FAILED $i"; exit 1; }
        [ $i = 6 ] && echo "EFI-VAR-WRITING"
    done
    echo "EFI-VAR-LOOP-ENDED"
    ;;
verify)
    last=0
    for f in $E/VmkitLoop*-$G; do
        v=$(tail -c +5 $f 2>/dev/null | cut -c1-16)
        v=${v%% *}
        [ "${v#loop=}" -gt $last ] 2>/dev/null && last=${v#loop=}
    done
    echo "EFI-STORE-OK last loop=$last"
    echo "EFI-VERIFIED"
    ;;
esac
exit 0
