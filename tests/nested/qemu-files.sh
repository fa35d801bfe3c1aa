#!/usr/bin/env bash
# Lists, one path a line, what QEMU needs to boot a Linux guest with KVM inside L1:
# the qemu-system-x86_64 binary (run-l1.sh adds its shared libraries) and the firmware and
# option ROMs (they land flat in L1's /data; run QEMU there with `-L /data`).
#   run-l1.sh SCRIPT $(tests/nested/qemu-files.sh [--ovmf])
# --ovmf adds OVMF_CODE_4M.fd / OVMF_VARS_4M.fd (package ovmf) for UEFI guests.
set -euo pipefail
command -v qemu-system-x86_64 >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 >&2 </dev/null
command -v qemu-system-x86_64

# SeaBIOS (pc/q35), qboot (microvm), the -kernel/multiboot/PVH loader ROMs, kvmvapic,
# the virtio-net boot ROM and two VGA BIOSes. Same search order as Debian's QEMU, so a
# name found in several folders resolves to what QEMU itself would load.
names=(bios-256k.bin bios.bin bios-microvm.bin qboot.rom kvmvapic.bin linuxboot.bin
       linuxboot_dma.bin multiboot.bin multiboot_dma.bin pvh.bin efi-virtio.rom
       vgabios-stdvga.bin vgabios-virtio.bin)
for n in "${names[@]}"; do
    for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
        if [[ -e $d/$n ]]; then echo "$d/$n"; break; fi
    done
done
if [[ ${1:-} == --ovmf ]]; then
    [[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ]] ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q ovmf >&2 </dev/null
    echo /usr/share/OVMF/OVMF_CODE_4M.fd
    echo /usr/share/OVMF/OVMF_VARS_4M.fd
fi
