#!/usr/bin/env bash
# Prints "direct" when this host's /dev/kvm runs stock guests (VT-x / AMD-V),
# "nested" when it cannot (PVM, see ../shared/ENVIRONMENT.md) or is missing,
# so tests and the demo boot the Debian guest inside an emulated KVM host.
if [ -n "${VMK_KVM_KIND:-}" ]; then echo "$VMK_KVM_KIND"; exit 0; fi
if [ -c /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
    echo direct
else
    echo nested
fi
