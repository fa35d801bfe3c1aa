#!/bin/sh
# The virtio entropy device as the guest's hardware RNG: its name and 64
# bytes read from /dev/hwrng (two reads must differ).
echo "RNG-CURRENT=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
a=$(head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \n')
b=$(head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \n')
echo "RNG-A=$a"
echo "RNG-B=$b"
[ ${#a} -eq 128 ] && [ "$a" != "$b" ]
