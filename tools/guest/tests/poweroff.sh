#!/bin/sh
# Clean guest-initiated poweroff through init (the VMM must see an ACPI S5 / shutdown,
# and VMKIT-TEST-EXIT is never printed).
poweroff
sleep 60
