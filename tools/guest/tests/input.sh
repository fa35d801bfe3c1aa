#!/bin/sh
# virtio-input (tests/integration/nested-input.sh): the guest finds its keyboard, screen
# pointer and mouse by name, prints their evdev capabilities, then records exactly the events
# the host injects through the REST API (text "Hi!" and Enter; the pointer to two positions,
# a left click and a wheel click; the mouse moved) and prints them as "EV type code value".
dev() {
    for e in /sys/class/input/event*; do
        [ "$(cat "$e/device/name" 2>/dev/null)" = "$1" ] && { echo "/dev/input/${e##*/}"; return; }
    done
}
kbd=$(dev "vmkit keyboard"); ptr=$(dev "vmkit screen pointer"); mse=$(dev "vmkit mouse")
[ -n "$kbd" ] && [ -n "$ptr" ] && [ -n "$mse" ] || { echo "INPUT-DEVICES=missing $kbd $ptr $mse"; exit 1; }
caps() { c=/sys/class/input/${1##*/}/device/capabilities; echo "ev=$(cat $c/ev) key=$(cat $c/key | tr ' ' _) abs=$(cat $c/abs) rel=$(cat $c/rel)"; }
echo "CAPS-KBD $(caps $kbd)"
echo "CAPS-PTR $(caps $ptr)"
echo "CAPS-MSE $(caps $mse)"
echo "PTR-PROPS=$(cat /sys/class/input/${ptr##*/}/device/properties)"
# Events the host sends (each followed by SYN_REPORT): keyboard: Shift h, h, Shift i ... =
# "Hi!\n" is LShift down, H down, H up, LShift up, I down, I up, LShift down, 1 down, 1 up,
# LShift up, Enter down, Enter up: 12 key events + 12 SYN. Pointer: 2 positions (2 ABS +
# SYN each), left down, left up, wheel: 3 + 3 SYN = 12.
# Events are 24 bytes (struct input_event on x86-64); head stops after exactly N of them.
# The mouse gets the pointer buttons and wheel too: 2 + 2 + 2 + 3 events.
head -c $((24 * 24)) $kbd >/tmp/kbd.bin &
k=$!
head -c $((12 * 24)) $ptr >/tmp/ptr.bin &
p=$!
head -c $((9 * 24)) $mse >/tmp/mse.bin &
m=$!
sleep 1
echo "INPUT-READY"
wait $k; wait $p; wait $m
echo "INPUT-BYTES $(wc -c </tmp/kbd.bin) $(wc -c </tmp/ptr.bin) $(wc -c </tmp/mse.bin)"
show() { od -An -v -tu2 -w24 "$2" | while read -r a b c d e f g h t code v1 v2; do
    echo "$1 $t $code $((v1 + v2 * 65536))"; done; }
show KBD /tmp/kbd.bin
show PTR /tmp/ptr.bin
show MSE /tmp/mse.bin
echo "INPUT-DONE"
