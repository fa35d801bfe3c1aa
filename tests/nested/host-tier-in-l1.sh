#!/usr/bin/env bash
# Runs a host-side test script (tests/integration/direct.sh) unchanged inside L1, for hosts
# with no usable /dev/kvm (scripts/kvm-kind.sh says "none"): L1 has a real KVM, so the same
# test guest boots through the same API and CLI and the same checks judge it. The script's
# pass/fail lines come back over L1's console and land in $VMK_RESULTS as if it had run
# here; its "ok"/"not ok" lines (with a failing check's log) are in this script's output.
#
# usage: host-tier-in-l1.sh SCRIPT BUILD_DIR
# The checkout's tests/ and scripts/ and the build's binaries and test guests are staged in
# L1 at their paths on this host, so the script finds everything where it looks for it.
# Env passed on: VMK_PREFIX, ASAN_OPTIONS, UBSAN_OPTIONS. VMK_L1_TIMEOUT (s, default 1800).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
S=$(cd "$(dirname "${1:?script}")" && pwd)/$(basename "$1")
B=$(cd "${2:?build dir}" && pwd)
name=$(basename "$S" .sh)

work=$(mktemp -d /tmp/vmkit-in-l1.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The tree: sources the script reads, test guests and images by their build paths; the
# executables themselves go in as run-l1.sh FILEs (with the libraries ldd lists) and are
# linked to from their build paths.
bins=("$B/vmkit" "$B/tests/vmkit-api-test")
for t in bash curl socat; do bins+=("$(command -v $t)"); done
mkdir -p "$work/tree$ROOT" "$work/tree$B/tests/direct"
cp -a "$ROOT/tests" "$ROOT/scripts" "$work/tree$ROOT/"
cp -L "$B"/tests/direct/*.bzimage "$B"/tests/direct/*.fd "$work/tree$B/tests/direct/"
ln -s /bin/vmkit "$work/tree$B/vmkit"
ln -s /bin/vmkit-api-test "$work/tree$B/tests/vmkit-api-test"
tar -C "$work/tree" -cf "$work/tree.tar" .
chmod 0644 "$work/tree.tar"

q() { printf "%q" "$1"; }
cat >"$work/l1.sh" <<L1
tar -C / -xf /data/tree.tar || { echo "IN-L1: cannot unpack the tree"; exit 1; }
# As on any host: loopback up (L1's /init leaves it down).
ip link set lo up
export VMK_PREFIX=$(q "${VMK_PREFIX:-}") ASAN_OPTIONS=$(q "${ASAN_OPTIONS:-}") UBSAN_OPTIONS=$(q "${UBSAN_OPTIONS:-}")
export VMK_RESULTS=/tmp/results VMK_LOGDIR=/tmp/logs VMK_IN_L1=1
: >/tmp/results
bash $(q "$S") $(q "$B") </dev/null
rc=\$?
echo "=== IN-L1 RESULTS"
cat /tmp/results
echo "=== IN-L1 END rc=\$rc"
L1

log=$VMK_LOGDIR/$name-l1.log
# 6 GiB: the direct tier boots guests of up to 5120 MiB, and vmkit refuses a VM larger than
# its host's RAM. The outer QEMU only backs what L1 touches.
"$ROOT/tests/nested/run-l1.sh" --mem 6144 --timeout "${VMK_L1_TIMEOUT:-1800}" --retries 1 "$work/l1.sh" \
    "${bins[@]}" "$work/tree.tar" </dev/null >"$log" 2>&1
rc=$?
# The script's own lines, as if it had run here.
tr -d '\r' <"$log" | sed -n '/^=== IN-L1 RESULTS$/q; /^\(ok\|not ok\) - /,$p' | grep -v '^L1-EXIT='
results=$(tr -d '\r' <"$log" | awk '$0 == "=== IN-L1 RESULTS" {on = 1; next} /^=== IN-L1 END / {exit} on && /^(pass|fail) /')
if ! tr -d '\r' <"$log" | grep -q '^=== IN-L1 END rc=0$' || [ -z "$results" ]; then
    t_fail "$name-in-l1" "L1 did not finish the tier (run-l1 exit $rc, log $log)"
    tail -n 30 "$log" | sed 's/^/    | /'
fi
[ -n "$results" ] && printf '%s\n' "$results" >>"$VMK_RESULTS"
exit 0
