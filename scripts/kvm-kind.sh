#!/usr/bin/env bash
# Tells which of the three kinds of KVM host this is (docs/design.md, "Test tiers"):
#   hardware  /dev/kvm is usable and runs stock guests (VT-x / AMD-V): everything runs here.
#   pvm       /dev/kvm is usable but is PVM (see ../shared/ENVIRONMENT.md): it runs the
#             project's small test guests, not stock Linux or OVMF; those boot inside a KVM
#             host emulated by QEMU (tests/nested/run-l1.sh).
#   none      no usable /dev/kvm (missing, or this user may not open it): every guest, the
#             small test guests too, boots inside the emulated KVM host.
# VMK_KVM_KIND overrides the answer (e.g. VMK_KVM_KIND=none on a PVM host runs the direct
# tier in L1, as a machine without /dev/kvm does).
if [ -n "${VMK_KVM_KIND:-}" ]; then
    case $VMK_KVM_KIND in
        hardware | pvm | none) echo "$VMK_KVM_KIND"; exit 0 ;;
        *) echo "kvm-kind.sh: VMK_KVM_KIND=$VMK_KVM_KIND: expected hardware, pvm or none" >&2; exit 2 ;;
    esac
fi
# Usable means this user can open it read-write, as vmkit does.
if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo none
elif [ -d /sys/module/kvm_pvm ] || ! { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
    echo pvm
else
    echo hardware
fi
