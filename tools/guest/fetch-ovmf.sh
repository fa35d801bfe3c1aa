#!/usr/bin/env bash
# Unpacks Debian's OVMF (the EDK2 build for QEMU's platform) into the guest
# cache and prints the folder holding OVMF_CODE_4M.fd and OVMF_VARS_4M.fd.
# apt-get download + dpkg -x: no root state, reused by later runs.
set -euo pipefail
exec </dev/null
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$("$HERE/build-guest.sh" --print-dir)
dir=$CACHE/ovmf
if [[ ! -f $dir/usr/share/OVMF/OVMF_CODE_4M.fd ]]; then
    mkdir -p "$CACHE/debs" "$dir"
    (cd "$CACHE/debs" && { ls ovmf_*.deb >/dev/null 2>&1 || apt-get download -q ovmf >&2 2>/dev/null || apt-get download ovmf >&2; })
    dpkg -x "$(ls "$CACHE"/debs/ovmf_*.deb | tail -n1)" "$dir"
fi
echo "$dir/usr/share/OVMF"
