#!/bin/sh
# Booted from the installed disk (efi-iso.sh made it) through its boot entry. Prints the boot
# variables, then takes the next step of the EFI test chain, kept in a UEFI variable of our
# own (so the step itself proves non-volatile variables persist):
#   (none)    BootNext := the EFI shell's entry, step=bootnext, reboot (the host resets the shell)
#   bootnext  BootNext was used once: back on the vmkit entry; step=writes, power off
#   writes    step=verify, then writes variables in a loop until the VMM is killed
#   verify    the store survived: the loop variable is readable; clean up, power off
B=/opt/vmkit/bin
E=/sys/firmware/efi/efivars
G=5ee0c5a4-6e3b-4d2a-9a55-766d6b697421
STEP=$E/VmkitTestStep-$G
mount -t efivarfs efivarfs $E || echo "EFI-EFIVARFS=failed"
$B/efibootmgr
cur=$($B/efibootmgr | sed -n 's/^BootCurrent: //p')
num=$($B/efibootmgr | sed -n 's/^Boot\([0-9A-F]\{4\}\)\*\{0,1\} vmkit.*/\1/p' | head -n1)
order=$($B/efibootmgr | sed -n 's/^BootOrder: //p')
echo "EFI-BOOT-CURRENT=$cur EFI-VMKIT-ENTRY=$num EFI-BOOTORDER=$order"
[ -n "$num" ] && [ "$cur" = "$num" ] && echo "EFI-BOOTED-FROM=vmkit"
[ "${order%%,*}" = "$num" ] && echo "EFI-BOOTORDER-FIRST=vmkit"
$B/efibootmgr | grep -q '^BootNext' && echo "EFI-BOOTNEXT-PENDING"

# setvar FILE TEXT: attributes NV+BS+RT (7, little-endian) then TEXT, in one write.
setvar() { printf '\007\000\000\000%s' "$2" >/tmp/var && cat /tmp/var >"$1"; }
step=$(tail -c +5 $STEP 2>/dev/null)
echo "EFI-STEP=${step:-none}"
case $step in
"")
    shell=$($B/efibootmgr | sed -n 's/^Boot\([0-9A-F]\{4\}\)\*\{0,1\} EFI Internal Shell.*/\1/p' | head -n1)
    [ -n "$shell" ] || { echo "EFI-NO-SHELL-ENTRY"; exit 1; }
    $B/efibootmgr -q -n $shell || exit 1
    setvar $STEP bootnext || exit 1
    echo "EFI-BOOTNEXT-SET=$shell"
    $B/efibootmgr | grep '^BootNext'
    sync
    reboot -f
    sleep 60
    ;;
bootnext)
    setvar $STEP writes || exit 1
    echo "EFI-BOOTNEXT-DONE"
    ;;
writes)
    setvar $STEP verify || exit 1
    # 1 KiB values, rewritten back to back: most of the time is spent inside flash writes.
    i=0
    while [ $i -lt 2000 ]; do
        i=$((i + 1))
        setvar $E/VmkitLoop-$G "loop=$i $(head -c 1000 /dev/zero | tr '\0' x)" || { echo "EFI-WRITE-FAILED $i"; exit 1; }
        [ $i = 3 ] && echo "EFI-VAR-WRITING"
    done
    echo "EFI-VAR-LOOP-ENDED"
    ;;
verify)
    v=$(tail -c +5 $E/VmkitLoop-$G 2>/dev/null | cut -c1-12)
    echo "EFI-STORE-OK last ${v%% *}"
    rm -f $E/VmkitLoop-$G $STEP
    [ -e $STEP ] && echo "EFI-STEP-NOT-REMOVED"
    echo "EFI-VERIFIED"
    ;;
esac
exit 0
