#!/usr/bin/env bash
# What a user without a usable /dev/kvm is told, through the CLI and the API: one clear
# line naming /dev/kvm, exit status 1, nothing started; and disk images the user may not
# write are refused before /dev/kvm is even looked at. Runs on this host whatever its kind
# of KVM: where /dev/kvm is missing or closed to us that is simply the truth; where it is
# there, a mount namespace hides it (a tmpfs over /dev) or holds a node of the same device
# with mode 0600, opened as nobody. Needs root for the namespaces and setpriv.
# usage: kvm-access.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
B=$(cd "${1:?build dir}" && pwd)
G=$B/tests/direct/vmkit-testguest.bzimage
if [ "$(id -u)" != 0 ]; then
    t_fail kvm-access "needs root (mount namespaces, setpriv)"
    exit 0
fi

# Copies an unprivileged user can reach wherever the checkout lives.
nb=$(mktemp -d /tmp/vmkit-nobody.XXXXXX)
trap 'rm -rf "$nb"' EXIT
install -m 0755 "$B/vmkit" "$nb/vmkit"
install -m 0755 "$B/tests/vmkit-api-test" "$nb/vmkit-api-test"
install -m 0644 "$G" "$nb/guest"
chmod 0755 "$nb"
CLI=("$nb/vmkit" --memory 64 --bootloader "linux,kernel=$nb/guest")
API=("$nb/vmkit-api-test" --memory 64 --kernel "$nb/guest" --timeout 10)

# without_kvm CMD...: CMD where /dev/kvm does not exist.
without_kvm() {
    if [ ! -e /dev/kvm ]; then "$@"; return; fi
    unshare -m sh -c 'mount -t tmpfs tmpfs /dev && exec "$@"' sh "$@"
}
# as_nobody_kvm_0600 CMD...: CMD as nobody, /dev/kvm a root-only node of the KVM device
# (misc 10:232). The open fails on the mode before the device is looked up, so this holds
# whether or not the host has KVM.
as_nobody_kvm_0600() {
    unshare -m sh -c 'mount -t tmpfs -o mode=0755 tmpfs /dev && mknod -m 0600 /dev/kvm c 10 232 &&
        exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' sh "$@"
}
# outcome NAME CMD...: CMD's output and exit status in NAME's log.
outcome() {
    local log=$VMK_LOGDIR/$1.log; shift
    "$@" </dev/null >"$log" 2>&1
    echo "rc=$?" >>"$log"
}

outcome cli-no-kvm without_kvm "${CLI[@]}"
t_expect cli-no-kvm "$VMK_LOGDIR/cli-no-kvm.log" "^vmkit: /dev/kvm is missing" "^rc=1$"
outcome api-no-kvm without_kvm "${API[@]}"
t_expect api-no-kvm "$VMK_LOGDIR/api-no-kvm.log" "^API error vm_new: no-kvm .*/dev/kvm is missing" "^rc=1$"
outcome cli-kvm-permission as_nobody_kvm_0600 "${CLI[@]}"
t_expect cli-kvm-permission "$VMK_LOGDIR/cli-kvm-permission.log" "^vmkit: /dev/kvm: no permission" "^rc=1$"
outcome api-kvm-permission as_nobody_kvm_0600 "${API[@]}"
t_expect api-kvm-permission "$VMK_LOGDIR/api-kvm-permission.log" \
    "^API error vm_new: kvm-permission .*/dev/kvm: no permission" "^rc=1$"

# Disk images a user cannot write, and a directory, are refused (validation, before
# /dev/kvm) and left as they were.
head -c 1048576 /dev/urandom >"$nb/disk.img"
chmod 0600 "$nb/disk.img"
h=$(md5sum <"$nb/disk.img")
log=$VMK_LOGDIR/cli-disk-permission.log
: >"$log"
for d in "$nb/disk.img" "$nb"; do
    setpriv --reuid=65534 --regid=65534 --clear-groups "${CLI[@]}" --device "virtio-blk,path=$d" \
        </dev/null >>"$log" 2>&1
    echo "rc=$?" >>"$log"
done
[ "$(md5sum <"$nb/disk.img")" = "$h" ] && echo "image-unchanged" >>"$log"
t_expect cli-disk-permission "$log" "cannot open disk image .*disk.img for writing: Permission denied" \
    "is a directory" "^rc=1$" "^image-unchanged$"
exit 0
