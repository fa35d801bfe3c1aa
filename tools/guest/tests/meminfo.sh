#!/bin/sh
# Memory the guest kernel sees, e.g. "MemTotal:        1004528 kB".
grep '^MemTotal:' /proc/meminfo
