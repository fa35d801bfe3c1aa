# Sourced by L1 scripts (pass this file to run-l1.sh; it lands in /data):
#   . /data/l1-lib.sh
#   run NAME CMD...   runs CMD, its output fenced by "=== BEGIN NAME" and
#                     "=== END NAME rc=N" for the host-side checks.
# With run-l1.sh --state, a step that ended is recorded under /state/steps and
# is not run again when run-l1.sh --retries starts L1 anew after the outer
# QEMU's TCG abort: its saved output is printed instead, so the final console
# holds every step once. Steps keep what later steps need under /state and
# should start from copies of it, so a step cut short can simply run again.
run() {
    name=$1; shift
    if ! grep -q " /state " /proc/mounts; then
        echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"
        return 0
    fi
    mkdir -p /state/steps
    if [ ! -f "/state/steps/$name.log" ]; then
        { echo "=== BEGIN $name"; "$@" 2>&1; echo "=== END $name rc=$?"; } | tee "/state/steps/$name.tmp"
        sync
        mv "/state/steps/$name.tmp" "/state/steps/$name.log" && sync
    else
        echo "l1-lib: $name ran in an earlier attempt; its output:"
        cat "/state/steps/$name.log"
    fi
}
# png_out NAME FILE: prints FILE (a screenshot) base64-encoded between "=== PNG NAME" and
# "=== PNG-END", for tests/lib.sh's screen_text on the host.
png_out() {
    [ -f "$2" ] || { echo "PNG-MISSING $1"; return 1; }
    echo "=== PNG $1"; base64 "$2"; echo "=== PNG-END"
}
