#!/usr/bin/env bash
# Nested tier, views: the vmkit command boots Debian's OVMF with a virtio-gpu and serves it with
# --vnc inside L1 (a KVM host emulated by QEMU, see tests/nested/run-l1.sh), in one firmware boot:
# a standard VNC client (tests/view/vnc_client.c, libvncclient) sees the EFI shell on the screen,
# types a command into it through VNC key events (X keysyms -> evdev -> the PS/2 keyboard), whose
# output, which only the shell's expansion of %uefiversion% makes, appears on the serial console
# and on the screen (OCR on the host); the VNC picture equals the REST screenshot
# (GET /vmkit/screenshot) but for the shell's blinking cursor; a second vmkit on the same port
# fails before its VM starts; the guest powers off when `reset -s` is typed through VNC.
# The browser and the window (--web, --gui) are tested on the host against a fake VM
# (tests/view/views.sh), which needs neither KVM nor a display forwarded into L1.
# usage: nested-views.sh BUILD_DIR
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
BUILD=$(cd "${1:?build dir}" && pwd)

"$ROOT/tools/guest/build-guest.sh" >/dev/null || { t_fail nested-views-guest-build; exit 0; }
ovmf=$("$ROOT/tools/guest/fetch-ovmf.sh") || { t_fail nested-views-ovmf-fetch; exit 0; }

l1=$(mktemp /tmp/vmkit-l1-views.XXXXXX.sh)
cat >"$l1" <<'L1'
. "$GUEST_DATA/l1-lib.sh"
echo "L1-VIEWS-START uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ ! -e /usr/share/OVMF/OVMF_CODE_4M.fd ] && [ -z "${VMK_DIRECT:-}" ]; then
    mkdir -p /usr/share/OVMF
    ln -s "$GUEST_DATA/OVMF_CODE_4M.fd" "$GUEST_DATA/OVMF_VARS_4M.fd" /usr/share/OVMF/
fi
if grep -q " /state " /proc/mounts; then ST=/state/views; else ST=$(mktemp -d /tmp/vmkit-views-st.XXXXXX); fi
rm -rf $ST && mkdir -p $ST
VNC=127.0.0.1:5909
# L1's loopback is down until someone brings it up.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
# waitfor FILE PATTERN SECONDS
waitfor() { i=0; while ! grep -q "$2" "$1" 2>/dev/null; do i=$((i + 1)); [ $i -gt $3 ] && return 1; sleep 1; done; }
vnc_shell() {
    vmkit --memory 256 --bootloader "efi,variable-store=$ST/vars.fd,create" \
        --device virtio-gpu,width=1024,height=768 --device "serial,logFilePath=$ST/serial.log" \
        --vnc $VNC --restful-uri tcp://127.0.0.1:8089 </dev/null >$ST/vmkit.out 2>&1 &
    pid=$!
    waitfor $ST/serial.log "Shell>" 900 || { echo "NO-SHELL"; cat $ST/serial.log; kill $pid; return 1; }
    sleep 2
    # The port is taken: a second vmkit says so and starts nothing.
    vmkit --bootloader "efi,variable-store=$ST/other.fd,create" --device virtio-gpu --vnc $VNC </dev/null
    echo "SECOND-RC=$?"
    vmkit-vnc-client $VNC wait:500 snapshot:$ST/shell.png 'type:echo VNC-%uefiversion%
' || echo "VNC-CLIENT-FAILED"
    waitfor $ST/serial.log "VNC-2\.[0-9]" 120 || echo "NO-OUTPUT"
    sleep 2
    vmkit-vnc-client $VNC wait:500 snapshot:$ST/typed.png
    wget -q -O $ST/rest.png http://127.0.0.1:8089/vmkit/screenshot || echo "REST-FAILED"
    vmkit-vnc-client $VNC 'type:reset -s
' wait:200
    i=0; while kill -0 $pid 2>/dev/null; do i=$((i + 1)); [ $i -gt 120 ] && { echo "NO-POWEROFF"; kill $pid; break; }; sleep 1; done
    wait $pid
    echo "VMKIT-RC=$?"
    cat $ST/vmkit.out
    tr -d '\033' <$ST/serial.log | tail -c 2000
    echo
    png_out vnc-shell $ST/shell.png
    png_out vnc-typed $ST/typed.png
    png_out rest-typed $ST/rest.png
}
run vnc-shell vnc_shell
echo "L1-VIEWS-END uptime=$(cut -d' ' -f1 /proc/uptime)"
exit 0
L1

log="$VMK_LOGDIR/nested-views.log"
tg=$(mktemp -d /tmp/vmkit-tg-views.XXXXXX)
install -m 0644 "$ovmf/OVMF_CODE_4M.fd" "$ovmf/OVMF_VARS_4M.fd" "$ROOT/tests/nested/l1-lib.sh" "$tg/"
t0=$(date +%s)
if [ "${VMK_DIRECT:-0}" = 1 ]; then
    PATH="$BUILD:$BUILD/tests:$PATH" GUEST_DATA=$tg VMK_DIRECT=1 sh "$l1" </dev/null >"$log" 2>&1
else
    state=$(mktemp -u /var/tmp/vmkit-views-state.XXXXXX)
    "$ROOT/tests/nested/run-l1.sh" --timeout 1200 --state "$state" --retries 2 "$l1" "$BUILD/vmkit" \
        "$BUILD/tests/vmkit-vnc-client" "$tg/OVMF_CODE_4M.fd" "$tg/OVMF_VARS_4M.fd" "$tg/l1-lib.sh" \
        </dev/null >"$log" 2>&1
fi
rc=$?
rm -rf "$l1" "${tg:-}" "${state:-}"
echo "nested-views: L1 run took $(( $(date +%s) - t0 )) s" >>"$log"
[ $rc -eq 0 ] && t_pass nested-views-rig || t_fail nested-views-rig "run-l1 exit $rc (log $log)"

f="$VMK_LOGDIR/nested-vnc-shell.log"
check vnc-shell "VNC-CONNECTED 1024x768 name=vmkit" "VNC-SNAPSHOT 1024x768" "VMKIT-RC=0"
t_absent nested-views-no-failure "$f" "NO-SHELL|NO-OUTPUT|NO-POWEROFF|VNC-CLIENT-FAILED|REST-FAILED"
t_expect nested-views-port-in-use "$f" "vmkit: --vnc: \"127.0.0.1:5909\": Address already in use" "SECOND-RC=1"
# The command typed through VNC ran in the shell: its expansion is on the serial console.
t_expect nested-views-vnc-typing "$f" "VNC-2\.[0-9]+"
if txt=$(screen_text vnc-shell "$f"); then
    t_expect nested-views-vnc-screen "$txt" "UEFI Interactive Shell"
else
    t_fail nested-views-vnc-screen "no VNC picture in $f"
fi
if txt=$(screen_text vnc-typed "$f"); then
    # OCR reads 2 as Z and V as U at times.
    t_expect nested-views-vnc-typed-screen "$txt" "[VU]NC-[2Z]\.[0-9]"
else
    t_fail nested-views-vnc-typed-screen "no VNC picture in $f"
fi
# The VNC picture and the API's frame: the same pixels but for the text cursor's cell (it blinks).
if screen_text rest-typed "$f" >/dev/null; then
    ae=$(compare -metric AE "$VMK_LOGDIR/screen-vnc-typed.png" "$VMK_LOGDIR/screen-rest-typed.png" null: 2>&1)
    if [ -n "$ae" ] && [ "${ae%%.*}" -le 400 ] 2>/dev/null; then
        t_pass nested-views-vnc-equals-frame
    else
        t_fail nested-views-vnc-equals-frame "$ae pixels differ"
    fi
else
    t_fail nested-views-vnc-equals-frame "no REST screenshot in $f"
fi
grep -a "nested-views: L1 run took\|L1-VIEWS-\(START\|END\)" "$log" | tr -d '\r' | sed 's/^/    /'
exit 0
