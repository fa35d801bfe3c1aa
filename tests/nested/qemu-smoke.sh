#!/usr/bin/env bash
# Proves the nested rig end to end without vmkit: in L1, QEMU+KVM boots the L2 test guest to
# its ready marker, runs vmkit.test=meminfo and vmkit.test=cpus (2 vCPUs), boots microvm, and
# powers the guest off with the ACPI power button. Exit 0 on success.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mapfile -t files < <("$HERE/qemu-files.sh")
exec "$HERE/run-l1.sh" --timeout "${VMK_SMOKE_TIMEOUT:-600}" "$HERE/smoke-l1.sh" "${files[@]}"
