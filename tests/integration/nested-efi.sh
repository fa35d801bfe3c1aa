#!/usr/bin/env bash
# Nested tier, UEFI: Debian's unmodified OVMF booted by vmkit inside L1 (a KVM host emulated by
# QEMU, see tests/nested/run-l1.sh), from flash with a persistent variable store, on real boot
# media: the EFI shell; the GRUB ISO of tools/guest/build-grub-iso.sh (CLI and API); an install
# from that ISO onto a blank disk (GPT + ESP + efibootmgr entry); the installed disk booting
# through its entry; BootNext used once; the store surviving a VMM killed while the guest writes
# variables. OVMF under nested TCG is slow, so the runs form one chain and every firmware boot
# counts. On a host whose KVM runs stock guests the same L1 script runs directly (VMK_DIRECT=1
# forces it).
# usage: nested-efi.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-efi-guest-build; exit 0; }
iso=$("$ROOT/tools/guest/build-grub-iso.sh" 2>"$VMK_LOGDIR/nested-efi-iso-build.log") ||
    { t_fail nested-efi-iso-build "log $VMK_LOGDIR/nested-efi-iso-build.log"; exit 0; }
ovmf=$("$ROOT/tools/guest/fetch-ovmf.sh") || { t_fail nested-efi-ovmf-fetch; exit 0; }

# The script L1 runs. Each test's output is fenced so the host can judge it.
l1=$(mktemp /tmp/vmkit-l1-efi.XXXXXX.sh)
cat >"$l1" <<'L1'
. "$GUEST_DATA/l1-lib.sh"
echo "L1-EFI-START uptime=$(cut -d' ' -f1 /proc/uptime)"
# The CLI's defaults are Debian's OVMF paths, which L1 gets from /data.
if [ ! -e /usr/share/OVMF/OVMF_CODE_4M.fd ] && [ -z "${VMK_DIRECT:-}" ]; then
    mkdir -p /usr/share/OVMF
    ln -s "$GUEST_DATA/OVMF_CODE_4M.fd" "$GUEST_DATA/OVMF_VARS_4M.fd" /usr/share/OVMF/
fi
# Every step leaves its store and disk under $ST/<step>.* and starts from copies of the previous
# step's, so a step cut short by the outer QEMU's abort (run-l1.sh --retries) runs again as is.
if grep -q " /state " /proc/mounts; then ST=/state/efi; else ST=$(mktemp -d /tmp/vmkit-efi-st.XXXXXX); fi
W=$ST/work
mkdir -p $ST
ISO=$GUEST_DATA/vmkit-grub.iso
api() { vmkit-api-test --firmware "$GUEST_DATA/OVMF_CODE_4M.fd" --vars-template "$GUEST_DATA/OVMF_VARS_4M.fd" \
    --memory 256 --timeout 400 "$@"; }
# from PREV: fresh copies of PREV's store and disk in $W; keep NAME: they become NAME's.
from() { rm -rf $W && mkdir -p $W && cp $ST/$1.fd $W/vars.fd && { [ ! -e $ST/$1.img ] || cp $ST/$1.img $W/disk.img; }; }
keep() { rc=$1; [ $rc = 0 ] && mv $W/vars.fd $ST/$2.fd && { [ ! -e $W/disk.img ] || mv $W/disk.img $ST/$2.img; }; return $rc; }

# The EFI shell on the serial console, input, and a non-volatile variable that survives into
# the next run through the store file.
# With a plain virtio-gpu (no VGA): OVMF's VirtioGpuDxe, a Blt-only GOP, shows the shell.
efi_shell() {
    rm -f $ST/shell.fd
    api --efi $ST/shell.fd --gpu 800x600,novga --on "Shell>=sleep:1500" --on "Shell>=screenshot:$ST/blt.png" "$@"
    rc=$?
    png_out efi-shell $ST/blt.png
    return $rc
}
run efi-shell efi_shell --uuid 0badc0de-1234-4abc-8def-0123456789ab --send-after "Shell>=set VMKVAR vmkit-persisted" \
    --send-after "Shell>=smbiosview -t 1" --send-after "Shell>=reset -s"
# Also the PS/2 keyboard: once `set` shows the variable, a command is typed as key presses
# (vmk_vm_input_type_text; no virtio keyboard, so the i8042's) and its output, which only the
# shell's expansion of %uefiversion% makes, stops the run. And the screen: a VGA-compatible
# virtio-gpu that OVMF drives as a VGA (QemuVideoDxe: a GOP with a linear framebuffer, in the
# mode of the EDID the device shows) shows the shell; a screenshot through the API is read by
# OCR on the host.
efi_vars() {
    api --efi $ST/shell.fd --gpu 1024x768 --send-after "Shell>=set" --on "VMKVAR=type:echo PS2-%uefiversion%" \
        --on "PS2-2.=sleep:1500" --on "PS2-2.=screenshot:$ST/shell.png" --send-after "PS2-2.=reset -s"
    rc=$?
    png_out efi-vars $ST/shell.png
    return $rc
}
run efi-vars efi_vars

# The GRUB ISO alone, through the CLI (vfkit's create makes the store): firmware -> GRUB ->
# Linux, the guest's ready marker, then it powers off (no disk to install to).
iso_cli() {
    rm -rf $W && mkdir -p $W
    echo "HOST-ISO-BEFORE=$(md5sum <$ISO | cut -d' ' -f1)"
    vmkit --memory 256 --bootloader "efi,variable-store=$W/vars.fd,create" \
        --device "virtio-blk,path=$ISO,readonly" --device serial,stdio
    rc=$?
    echo "HOST-ISO-AFTER=$(md5sum <$ISO | cut -d' ' -f1)"
    keep $rc iso
}
run iso-cli iso_cli
# The same ISO and store through the API, with a blank disk: the guest installs itself there.
# With a VGA-compatible GPU: GRUB's menu is graphical (gfxterm on the GOP's framebuffer), a key
# typed on the PS/2 keyboard picks the second entry, and Linux's efifb shows fbcon's text.
do_install() {
    from iso && truncate -s 48M $W/disk.img || return 1
    api --efi $W/vars.fd --disk "$ISO,ro" --disk $W/disk.img --gpu 1024x768 \
        --on "VMKIT-GRUB-ISO=sleep:700" --on "VMKIT-GRUB-ISO=screenshot:$W/menu.png" --on "VMKIT-GRUB-ISO=type:p" \
        --on "EFI-FB=sleep:1500" --on "EFI-FB=screenshot:$W/fb.png"
    rc=$?
    png_out grub-menu $W/menu.png
    png_out efifb $W/fb.png
    keep $rc installed
}
run install do_install
# Only the installed disk: its boot entry starts it; the guest sets BootNext to the EFI shell
# and reboots (the run stops there); the next start comes up in the shell once (the host
# types reset -s); the one after that is the entry again. One firmware boot per step.
disk_boot() { from installed && api --efi $W/vars.fd --disk $W/disk.img --reboot stop --expect guest-reboot; keep $? booted; }
run disk-boot disk_boot
bootnext_shell() { from booted && api --efi $W/vars.fd --disk $W/disk.img --send-after "Shell>=reset -s"; keep $? shell; }
run bootnext-shell bootnext_shell
disk_return() { from shell && api --efi $W/vars.fd --disk $W/disk.img; keep $? returned; }
run disk-return disk_return
# The guest writes variables in a loop; the VMM is killed meanwhile (after the 6th, each a new
# variable). The store is saved by a writer thread after each flash operation
# (src/platform/pflash.c), so it may lag the guest by the writes in flight: at least the 3rd
# must be there.
kill_write() {
    from returned || return 1
    api --efi $W/vars.fd --disk $W/disk.img --on EFI-VAR-WRITING=kill
    echo "VMM-RC=$?"
    ls -l $W
    rm -f $W/vars.fd.vmkit-tmp
    keep 0 killed
}
run kill-write kill_write
# The store the kill left still boots the installed entry and holds the variables.
after_kill() { from killed && api --efi $W/vars.fd --disk $W/disk.img; }
run after-kill after_kill
rm -rf $W
echo "L1-EFI-END uptime=$(cut -d' ' -f1 /proc/uptime)"
exit 0
L1

log="$VMK_LOGDIR/nested-efi.log"
tg=$(mktemp -d /tmp/vmkit-tg-efi.XXXXXX)
install -m 0644 "$ovmf/OVMF_CODE_4M.fd" "$ovmf/OVMF_VARS_4M.fd" "$ROOT/tests/nested/l1-lib.sh" "$tg/"
ln -s "$iso" "$tg/vmkit-grub.iso"
t0=$(date +%s)
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    # The variables are for the shell that runs the script (L1 sets them itself); the
    # script is a file so that its commands' stdin is /dev/null, not the script.
    PATH="$BUILD:$BUILD/tests:$PATH" GUEST_DATA=$tg VMK_DIRECT=1 sh "$l1" </dev/null >"$log" 2>&1
else
    # --state + --retries: should the outer QEMU still abort on its TCG bug (exit 123, see
    # run-l1.sh), a new attempt resumes after the last finished step.
    state=$(mktemp -u /var/tmp/vmkit-efi-state.XXXXXX)
    "$ROOT/tests/nested/run-l1.sh" --timeout 1200 --state "$state" --retries 2 "$l1" "$BUILD/vmkit" \
        "$BUILD/tests/vmkit-api-test" "$tg/vmkit-grub.iso" "$tg/OVMF_CODE_4M.fd" "$tg/OVMF_VARS_4M.fd" \
        "$tg/l1-lib.sh" </dev/null >"$log" 2>&1
fi
rc=$?
rm -rf "$l1" "${tg:-}" "${state:-}"
echo "nested-efi: L1 run took $(( $(date +%s) - t0 )) s" >>"$log"
[ $rc -eq 0 ] && t_pass nested-efi-rig || t_fail nested-efi-rig "run-l1 exit $rc (log $log)"


check efi-shell "UEFI Interactive Shell" "Shell>" "stop-reason guest-poweroff" "API frame 800x600 active=1"
# screen_check NAME LOG PATTERN...: the screenshot NAME in LOG, read by OCR, shows every PATTERN.
screen_check() {
    local name=$1 log=$2 txt; shift 2
    if txt=$(screen_text "$name" "$log"); then
        t_expect "nested-efi-screen-$name" "$txt" "$@"
    else
        t_fail "nested-efi-screen-$name" "no screenshot $name in $log"
    fi
}
screen_check efi-shell "$VMK_LOGDIR/nested-efi-shell.log" "UEFI Interactive Shell"
# OVMF installed our SMBIOS tables: its shell's smbiosview reads Type 1 back.
t_expect nested-efi-smbios "$VMK_LOGDIR/nested-efi-shell.log" "Manufacturer: vmkit" \
    "ProductName: vmkit Virtual Machine" "SerialNumber: 0badc0de-1234-4abc-8def-0123456789ab"
check efi-vars "VMKVAR .*= .*vmkit-persisted" "stop-reason guest-poweroff"
t_expect nested-efi-ps2-typing "$VMK_LOGDIR/nested-efi-vars.log" "echo PS2-%uefiversion%" "PS2-2\.[0-9]+"
t_expect nested-efi-gop-frame "$VMK_LOGDIR/nested-efi-vars.log" "API frame 1024x768 active=1"
# What a user sees: the shell's banner, and the typed command's output (OCR reads 2 as Z at times).
screen_check efi-vars "$VMK_LOGDIR/nested-efi-vars.log" "UEFI Interactive Shell" "PS[2Z]-[2Z]\.[0-9]"
check iso-cli VMKIT-GRUB-ISO VMKIT-GUEST-READY "EFI-BOOTED=uefi" "EFI-ISO=vda EFI-ISO-RO=1 EFI-TARGET=none" \
    "VMKIT-TEST-EXIT=0" && same_values iso-cli HOST-ISO-BEFORE HOST-ISO-AFTER
check install VMKIT-GRUB-ISO VMKIT-GUEST-READY "EFI-ISO=vda EFI-ISO-RO=1 EFI-TARGET=vdb" "EFI-FALLBACK=absent" \
    "EFI-INSTALLED=Boot[0-9A-F]{4}" "VMKIT-TEST-EXIT=0" "stop-reason guest-poweroff"
t_expect nested-efi-grub-key "$VMK_LOGDIR/nested-install.log" "EFI-PICKED=p" "EFI-FB=EFI_VGA 1024,768"
screen_check grub-menu "$VMK_LOGDIR/nested-install.log" "GNU GRUB" "picked by key"
screen_check efifb "$VMK_LOGDIR/nested-install.log" "EFIFB TEXT"
# The entry (first in BootOrder) boots the disk and sets BootNext; the next start uses it once
# (the shell, BootCurrent is not the entry); the one after that is back on the entry.
check disk-boot VMKIT-GRUB-DISK "EFI-BOOTED-FROM=vmkit" "EFI-BOOTORDER-FIRST=vmkit" "EFI-STEP=none" \
    "EFI-BOOTNEXT-SET=[0-9A-F]{4}" "^BootNext: [0-9A-F]{4}" "stop-reason guest-reboot"
check bootnext-shell "BdsDxe: starting Boot[0-9A-F]{4} \"EFI Internal Shell\"" "UEFI Interactive Shell" \
    "stop-reason guest-poweroff" &&
    t_absent nested-bootnext-shell-not-linux "$VMK_LOGDIR/nested-bootnext-shell.log" "VMKIT-GUEST-READY"
check disk-return VMKIT-GRUB-DISK "EFI-BOOTED-FROM=vmkit" "EFI-BOOTORDER-FIRST=vmkit" "EFI-STEP=bootnext" \
    "EFI-BOOTNEXT-DONE" "VMKIT-TEST-EXIT=0" "stop-reason guest-poweroff" &&
    t_absent nested-disk-return-bootnext-cleared "$VMK_LOGDIR/nested-disk-return.log" "EFI-BOOTNEXT-PENDING"
check kill-write VMKIT-GRUB-DISK "EFI-BOOTED-FROM=vmkit" "EFI-STEP=writes" "EFI-VAR-WRITING" "API action kill" \
    "VMM-RC=137"
check after-kill VMKIT-GRUB-DISK "EFI-BOOTED-FROM=vmkit" "EFI-BOOTORDER-FIRST=vmkit" "EFI-STEP=verify" \
    "EFI-STORE-OK last loop=([3-9]|[1-9][0-9]+)$" "EFI-VERIFIED" "VMKIT-TEST-EXIT=0" "stop-reason guest-poweroff"
grep -a "nested-efi: L1 run took\|L1-EFI-\(START\|END\)" "$log" | tr -d '\r' | sed 's/^/    /'
exit 0
