#!/bin/sh
# Number of online CPUs, as "CPUS=<n>" (and the kernel's online mask for diagnosis).
echo "CPUS=$(nproc)"
echo "CPUS-ONLINE=$(cat /sys/devices/system/cpu/online)"
