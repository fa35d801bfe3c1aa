#!/usr/bin/env bash
# The main job: build vmkit, prepare the Debian demo guest and boot it to an
# interactive shell on this terminal (Ctrl-A x quits; `poweroff` ends it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/deps.sh"
[ -d "$ROOT/build" ] || meson setup "$ROOT/build" >/dev/null
ninja -C "$ROOT/build" >/dev/null
"$ROOT/tools/guest/build-guest.sh" >/dev/null
CACHE=$("$ROOT/tools/guest/build-guest.sh" --print-dir)
G=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)
K=$G/vmlinuz I=$G/initrd.cpio.gz
args=(--cpus 2 --memory 512 --device serial,stdio)
case $("$ROOT/scripts/kvm-kind.sh") in
    hardware)
        echo "vmkit demo: hardware KVM: booting the guest directly on /dev/kvm."
        exec "$ROOT/build/vmkit" "${args[@]}" --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"console=ttyS0 quiet\"" ;;
    pvm) echo "vmkit demo: this host's /dev/kvm is PVM and cannot run stock guests; booting inside a QEMU-emulated KVM host (slower)." ;;
    *) echo "vmkit demo: no usable /dev/kvm on this host; booting inside a QEMU-emulated KVM host (slower)." ;;
esac
s=$(mktemp /tmp/vmkit-demo.XXXXXX.sh)
trap 'rm -f "$s"' EXIT
cat >"$s" <<L1
stty sane 2>/dev/null
vmkit ${args[*]} --bootloader "linux,kernel=\$GUEST_KERNEL,initrd=\$GUEST_INITRD,cmdline=\"console=ttyS0 quiet\""
L1
"$ROOT/tests/nested/run-l1.sh" --interactive --timeout 86400 "$s" "$ROOT/build/vmkit"
