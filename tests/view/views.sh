#!/usr/bin/env bash
# The views of src/view/ against a fake VM (tests/view/view_fake.c), on any
# host, no KVM: VNC with a standard client (tests/view/vnc_client.c, on TCP
# and a unix socket, with and without a password): the picture pixel for
# pixel, the cursor, keys, pointer, a mode change (desktop resize); a port in
# use; the browser: noVNC served by --web in a headless Chromium (the page
# shows the picture, a click and a key reach the guest); the window (SDL2)
# under Xvfb: screenshot, keys, resizing. The real guest's side is
# tests/integration/nested-views.sh.
# usage: views.sh VIEW_FAKE VNC_CLIENT
set -u
FAKE=$1
CLIENT=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d /tmp/vmkit-views.XXXXXX)
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan.supp:print_suppressions=0"
fails=0
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "ok - $1"; }
bad() {
    echo "not ok - $1${2:+: $2}"
    fails=$((fails + 1))
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# expect NAME FILE PATTERN...: every extended regex matches FILE.
expect() {
    local name=$1 f=$2 p
    shift 2
    for p in "$@"; do
        if ! grep -Eq -- "$p" "$f"; then
            bad "$name" "missing /$p/ in $f"
            sed 's/^/    | /' "$f" | tail -20
            return 1
        fi
    done
    ok "$name"
}
# The number of pixels of one exact colour in a PNG (ImageMagick).
count() { convert "$1" -format %c histogram:info:- 2>/dev/null | grep -i "#$2 " | sed 's/^ *\([0-9]*\):.*/\1/' | head -1; }
# start NAME ARGS...: the fake on a fifo (closing it ends the fake), its
# output in $T/NAME.log; waits until it is up.
start() {
    local name=$1
    shift
    mkfifo "$T/$name.ctl"
    "$FAKE" "$@" <"$T/$name.ctl" >"$T/$name.log" 2>&1 &
    pids+=($!)
    eval "exec {fd_$name}>\"$T/$name.ctl\""
    for _ in $(seq 100); do
        grep -q "VIEW-FAKE-READY\|view-fake:" "$T/$name.log" && return 0
        sleep 0.1
    done
}
# stop NAME: ends the fake cleanly (its threads and sockets under ASan too).
stop() {
    local v="fd_$1"
    eval "exec ${!v}>&-"
    for _ in $(seq 100); do grep -q VIEW-FAKE-END "$T/$1.log" && break; sleep 0.1; done
    grep -q VIEW-FAKE-END "$T/$1.log" || bad "$1-stop" "the fake did not end"
    # Under ASan+UBSan: any report fails (the report follows VIEW-FAKE-END at exit).
    sleep 0.5
    if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$T/$1.log"; then
        bad "$1-sanitizer" "see below"
        grep -A12 "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$T/$1.log" | head -40 | sed 's/^/    | /'
    fi
}

# --- VNC on TCP: picture, cursor, keys, pointer, a mode change ---
P=$(port)
start vnc --vnc 127.0.0.1:$P --size 640x480 --pointer 1280x960 --dump "$T/expect.png" --resize-after 5000 800x600
"$CLIENT" 127.0.0.1:$P wait:300 snapshot:"$T/a.png" 'type:Hi!
' click:320,240 size:800x600 wait:300 snapshot:"$T/b.png" ask:1024x640 size:1024x640 >"$T/client.log" 2>&1
echo "client-rc=$?" >>"$T/client.log"
expect vnc-connect "$T/client.log" "VNC-CONNECTED 640x480 name=vmkit" "client-rc=0"
ae=$(compare -metric AE "$T/a.png" "$T/expect.png" null: 2>&1)
[ "$ae" = 0 ] && ok vnc-picture-exact || bad vnc-picture-exact "$ae pixels differ"
expect vnc-cursor "$T/client.log" "VNC-CURSOR 64x64 hot=1,1"
# H: Shift + h; i; !: Shift + 1; Return.
tr '\n' ' ' <"$T/vnc.log" >"$T/vnc.flat"
expect vnc-keys "$T/vnc.flat" "INPUT key 42 1 INPUT key 35 1 INPUT key 35 0 INPUT key 42 0 INPUT key 23 1 INPUT key 23 0 INPUT key 42 1 INPUT key 2 1 INPUT key 2 0 INPUT key 42 0 INPUT key 28 1 INPUT key 28 0"
# 320,240 of a 640x480 frame on a 1280x960 pointer screen.
expect vnc-pointer "$T/vnc.flat" "INPUT pos 640 480 INPUT button 0 1 INPUT button 0 0"
expect vnc-resize "$T/client.log" "VNC-RESIZE 800x600" "VNC-SNAPSHOT 800x600"
# A client's size request (noVNC's remote resizing) asks the guest; the guest follows.
expect vnc-client-asks-size "$T/vnc.log" "INPUT reconfigure 1024 640"
expect vnc-client-asks-size-followed "$T/client.log" "VNC-RESIZE 1024x640"
[ "$(count "$T/b.png" FF00FF)" = 20000 ] && ok vnc-picture-after-resize || bad vnc-picture-after-resize "magenta: $(count "$T/b.png" FF00FF)"

# A browser's websocket (any web page may open one to a loopback port) is not let in on --vnc.
curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    -H 'Origin: http://evil.example' "http://127.0.0.1:$P/" >"$T/ws-vnc.log" 2>&1
echo "curl-rc=$?" >>"$T/ws-vnc.log"
expect vnc-refuses-websocket "$T/ws-vnc.log" "curl-rc=(52|56)"

# --- a port in use: one clear line, exit 1 ---
"$FAKE" --vnc 127.0.0.1:$P --run 100 </dev/null >"$T/inuse.log" 2>&1
echo "rc=$?" >>"$T/inuse.log"
expect vnc-port-in-use "$T/inuse.log" "--vnc: \"127.0.0.1:$P\": Address already in use" "rc=1"
stop vnc

# --- VNC on a unix socket, with a password ---
echo secret1 >"$T/pw"
echo wrong >"$T/badpw"
start unix --vnc "unix:$T/vnc.sock" --password-file "$T/pw" --dump "$T/expect2.png"
"$CLIENT" "$T/vnc.sock" --password-file "$T/pw" wait:300 snapshot:"$T/c.png" >"$T/unix.client" 2>&1
echo "client-rc=$?" >>"$T/unix.client"
expect vnc-unix-password "$T/unix.client" "VNC-CONNECTED 640x480" "client-rc=0"
ae=$(compare -metric AE "$T/c.png" "$T/expect2.png" null: 2>&1)
[ "$ae" = 0 ] && ok vnc-unix-picture || bad vnc-unix-picture "$ae pixels differ"
"$CLIENT" "$T/vnc.sock" --password-file "$T/badpw" wait:100 >"$T/badpw.client" 2>&1
echo "client-rc=$?" >>"$T/badpw.client"
expect vnc-wrong-password-refused "$T/badpw.client" "client-rc=1"
stop unix
[ ! -e "$T/vnc.sock" ] && ok vnc-unix-socket-removed || bad vnc-unix-socket-removed

# --- the browser: noVNC from --web, through the same VNC server ---
W=$(port)
start web --web 127.0.0.1:$W --password-file "$T/pw" --size 800x600 --pointer 800x600
curl -s -o "$T/vnc.html" -w '%{http_code} %{content_type}\n' "http://127.0.0.1:$W/vnc.html" >"$T/curl.log"
curl -s -o /dev/null -w '%{http_code} %{content_type}\n' "http://127.0.0.1:$W/core/rfb.js" >>"$T/curl.log"
curl -s --path-as-is -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$W/../../etc/passwd" >>"$T/curl.log"
curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$W/nothing-here" >>"$T/curl.log"
# Websockets only from the page's own origin (cross-site websocket hijacking).
ws() { curl -s --max-time 2 -o /dev/null -w '%{http_code}\n' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H "Origin: $1" \
    "http://127.0.0.1:$W/websockify"; }
echo "evil $(ws http://evil.example)" >>"$T/curl.log"
echo "own $(ws http://127.0.0.1:$W)" >>"$T/curl.log"
expect web-files "$T/curl.log" "^200 text/html" "^200 application/javascript" "^404$"
expect web-websocket-origin "$T/curl.log" "^evil 403" "^own 101"
grep -q "noVNC" "$T/vnc.html" && ok web-novnc-page || bad web-novnc-page
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
    timeout 120 python3 "$HERE/cdp.py" "$CHROMIUM" "http://127.0.0.1:$W/vnc.html?autoconnect=1&password=secret1" \
        "$T/web.png" "a" >"$T/cdp.log" 2>&1
    echo "cdp-rc=$?" >>"$T/cdp.log"
    expect web-chromium "$T/cdp.log" "CDP-SCREENSHOT" "cdp-rc=0"
    n=$(count "$T/web.png" FF00FF)
    [ "${n:-0}" -ge 15000 ] && ok web-chromium-shows-vm || bad web-chromium-shows-vm "magenta pixels: ${n:-0}"
    tr '\n' ' ' <"$T/web.log" >"$T/web.flat"
    expect web-chromium-input "$T/web.flat" "INPUT button 0 1 INPUT button 0 0" "INPUT key 30 1 INPUT key 30 0"
else
    bad web-chromium "no chromium (scripts/deps.sh installs it)"
fi
stop web

# --- the window, under Xvfb ---
if command -v Xvfb >/dev/null && command -v xwd >/dev/null && command -v xdotool >/dev/null; then
    for d in $(seq 90 99); do [ -e /tmp/.X11-unix/X$d ] || break; done
    Xvfb :$d -screen 0 1024x768x24 -nolisten tcp >"$T/xvfb.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do [ -e /tmp/.X11-unix/X$d ] && break; sleep 0.1; done
    export DISPLAY=:$d
    # Under ASan: SDL's X11 and D-Bus stack (libraries it loads and unloads itself) leaks a few
    # objects at exit that no suppression can name; leaks of the view code itself are checked
    # by the runs above.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" start gui --gui --size 640x480 --pointer 640x480
    for _ in $(seq 20); do
        sleep 0.5
        xwd -root -silent | convert xwd:- "$T/gui.png"
        n=$(count "$T/gui.png" FF00FF)
        [ "${n:-0}" = 20000 ] && break
    done
    [ "${n:-0}" = 20000 ] && ok gui-window-shows-vm || bad gui-window-shows-vm "magenta pixels: ${n:-0}"
    win=$(xdotool search --name '^vmkit$' | head -1)
    xdotool mousemove --window "$win" 100 50 click 1 key --window "$win" b
    xdotool windowsize "$win" 720 400
    sleep 1
    tr '\n' ' ' <"$T/gui.log" >"$T/gui.flat"
    expect gui-input "$T/gui.flat" "INPUT pos 100 50" "INPUT button 0 1 (INPUT pos 100 50 )?INPUT button 0 0" "INPUT key 48 1 INPUT key 48 0"
    expect gui-resize-reconfigures "$T/gui.log" "INPUT reconfigure 720 400"
    # The close button (a window manager's WM_DELETE_WINDOW): the owner is asked to stop.
    python3 "$HERE/xclose.py" "$d" "$win" >"$T/xclose.log" 2>&1
    for _ in $(seq 50); do grep -q VIEW-FAKE-END "$T/gui.log" && break; sleep 0.1; done
    cat "$T/xclose.log" >>"$T/gui.log"
    expect gui-close "$T/gui.log" "XCLOSE-SENT" "GUI-CLOSE" "VIEW-FAKE-END"
    # One close, one request: a second would stop the VM at once.
    [ "$(grep -c GUI-CLOSE "$T/gui.log")" = 1 ] && ok gui-close-once || bad gui-close-once
    stop gui
    unset DISPLAY
else
    bad gui "no Xvfb, xwd or xdotool (scripts/deps.sh installs them)"
fi

echo "views: $fails failed"
[ $fails = 0 ]
