#!/bin/sh
# PCI functions the guest enumerated, as "PCI <slot> <vendor>:<device> <driver>".
for d in /sys/bus/pci/devices/*; do
    [ -e "$d" ] || continue
    drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
    echo "PCI $(basename "$d") $(cat "$d/vendor"):$(cat "$d/device") ${drv:-none}"
done
grep -i msi /proc/interrupts | head -5
