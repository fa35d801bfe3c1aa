#!/usr/bin/env bash
# Nested tier, virtio-input: the real Debian kernel's virtio_input driver with a keyboard, a
# screen-coordinate pointer (1024x768) and a mouse from the vmkit CLI (vfkit's
# virtio-input,keyboard|pointing, our mouse and width/height). The guest prints each device's
# evdev capabilities, then records the events the host injects through the REST API
# (POST /vmkit/input) from L1 with curl: what the guest's evdev saw must be exactly what was
# sent, in order. Also the API's answers to bad input.
# One L1 run of its own; VMK_DIRECT=1 runs the same script on this host.
# usage: nested-input.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-input-guest-build; exit 0; }
GD=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)
CURL=$(command -v curl) || { t_fail nested-input-curl "curl is not installed (scripts/deps.sh)"; exit 0; }

work=$(mktemp -d /tmp/vmkit-input.XXXXXX)
trap 'rm -rf "$work"' EXIT
l1=$work/l1.sh
cat >"$l1" <<'L1'
K=$GUEST_KERNEL; I=$GUEST_INITRD
C="console=ttyS0 panic=-1 quiet"
run() { name=$1; shift; echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; }
input() {
    d=$(mktemp -d /tmp/in.XXXXXX)
    o=$d/vm.log
    ( vmkit --memory 256 --restful-uri "unix://$d/rest.sock" \
        --bootloader "linux,kernel=$K,initrd=$I,cmdline=\"$C vmkit.test=input\"" --device serial,stdio \
        --device virtio-input,keyboard --device virtio-input,pointing,width=1024,height=768 \
        --device virtio-input,mouse; echo $? >$d/rc ) 2>&1 | tee $o &
    vp=$!
    i=0
    until grep -q INPUT-READY $o 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 600 ] || break
        sleep 1
    done
    post() { echo "$1: $(curl -s -S --max-time 20 -w ' HTTP=%{http_code}' --unix-socket $d/rest.sock \
        -X POST -d "$2" http://localhost/vmkit/input)" >>$d/posts; }
    post bad-key '{"key":0,"pressed":true}'
    post bad-text '{"text":"caf\u00e9"}'
    post bad-button '{"button":"thumb","pressed":true}'
    post text '{"text":"Hi!\n"}'
    post pos1 '{"x":100,"y":200}'
    post pos2 '{"x":5000,"y":-3}'
    post down '{"button":"left","pressed":true}'
    post up '{"button":"left","pressed":false}'
    post wheel '{"wheel":1}'
    post move '{"dx":7,"dy":3}'
    wait $vp; rc=$(cat $d/rc)
    cat $d/posts   # after the guest's lines: the console is theirs while it runs
    rm -rf $d
    return $rc
}
run input input
exit 0
L1

log="$VMK_LOGDIR/nested-input-l1.log"
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$PATH" GUEST_KERNEL=$GD/vmlinuz GUEST_INITRD=$GD/initrd.cpio.gz \
        sh "$l1" </dev/null >"$log" 2>&1
else
    "$ROOT/tests/nested/run-l1.sh" --timeout 900 --retries 1 "$l1" "$BUILD/vmkit" "$CURL" \
        </dev/null >"$log" 2>&1
fi
rc=$?
[ $rc -eq 0 ] && t_pass nested-input-rig || t_fail nested-input-rig "run-l1 exit $rc (log $log)"
# Key codes: LeftShift 42, H 35, I 23, 1 2, Enter 28; BTN_LEFT 272, REL_WHEEL 8.
kbd=$(printf 'KBD %s\n' "1 42 1" "0 0 0" "1 35 1" "0 0 0" "1 35 0" "0 0 0" "1 42 0" "0 0 0" \
    "1 23 1" "0 0 0" "1 23 0" "0 0 0" "1 42 1" "0 0 0" "1 2 1" "0 0 0" "1 2 0" "0 0 0" "1 42 0" \
    "0 0 0" "1 28 1" "0 0 0" "1 28 0" "0 0 0")
ptr=$(printf 'PTR %s\n' "3 0 100" "3 1 200" "0 0 0" "3 0 1023" "3 1 0" "0 0 0" "1 272 1" "0 0 0" \
    "1 272 0" "0 0 0" "2 8 1" "0 0 0")
mse=$(printf 'MSE %s\n' "1 272 1" "0 0 0" "1 272 0" "0 0 0" "2 8 1" "0 0 0" "2 0 7" "2 1 3" "0 0 0")
check input "VMKIT-TEST-EXIT=0" "INPUT-DONE" "CAPS-KBD ev=120003 " "INPUT-BYTES 576 288 216" "CAPS-PTR ev=f key=1f0000_0_0_0_0 abs=3 rel=100" \
    "CAPS-MSE ev=7 key=1f0000_0_0_0_0 abs=0 rel=103" "PTR-PROPS=2" \
    'bad-key: \{"error":"key: expected an evdev key code"\} HTTP=400' \
    'bad-text: \{"error":"text: character 3 \(0xc3\) has no key on a US keyboard"\} HTTP=400' \
    'bad-button: \{"error":"button: expected left, right, middle, side or extra"\} HTTP=400' \
    'text: \{\} HTTP=200' 'pos1: \{\} HTTP=200' 'move: \{\} HTTP=200'
f="$VMK_LOGDIR/nested-input.log"
for want in "$kbd" "$ptr" "$mse"; do
    tag=${want%% *}
    got=$(grep "^$tag " "$f")
    if [ "$got" = "$want" ]; then t_pass "nested-input-events-$tag"; else
        t_fail "nested-input-events-$tag" "guest saw: $(echo "$got" | tr '\n' ',')"; fi
done
exit 0
