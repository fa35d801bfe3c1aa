#!/bin/sh
# What the kernel's DMI scan found (the SMBIOS tables): vendor, product and
# the system UUID, as "DMI-VENDOR=...", "DMI-PRODUCT=...", "DMI-UUID=...".
d=/sys/class/dmi/id
echo "DMI-VENDOR=$(cat $d/sys_vendor 2>/dev/null)"
echo "DMI-PRODUCT=$(cat $d/product_name 2>/dev/null | tr ' ' _)"
echo "DMI-UUID=$(cat $d/product_uuid 2>/dev/null)"
echo "DMI-SERIAL=$(cat $d/product_serial 2>/dev/null)"
echo "DMI-BIOS-VENDOR=$(cat $d/bios_vendor 2>/dev/null)"
echo "DMI-CHASSIS-VENDOR=$(cat $d/chassis_vendor 2>/dev/null)"
