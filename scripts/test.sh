#!/usr/bin/env bash
# Runs every test: unit tests and CLI checks (meson test), what a user without
# /dev/kvm is told, the direct tier (test guests on this host's /dev/kvm, or
# inside an emulated KVM host when there is none), the nested tier (the Debian
# kernel inside an emulated KVM host, or directly where KVM runs stock guests),
# all again under ASan+UBSan. Ends with "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
export VMK_RESULTS=$(mktemp /tmp/vmkit-results.XXXXXX)
export VMK_LOGDIR=${VMK_LOGDIR:-/tmp/vmkit-logs}
rm -rf "$VMK_LOGDIR"; mkdir -p "$VMK_LOGDIR"
. "$ROOT/tests/lib.sh"
kind=$("$ROOT/scripts/kvm-kind.sh")
case $kind in
    hardware) echo "vmkit tests: hardware KVM: every guest boots on this host" ;;
    pvm) echo "vmkit tests: PVM /dev/kvm: test guests boot here, Linux and OVMF inside an emulated KVM host (L1)" ;;
    none) echo "vmkit tests: no usable /dev/kvm: every guest boots inside an emulated KVM host (L1)" ;;
esac

# meson_suite BUILD: one result per meson test.
meson_suite() {
    local b=$1
    meson test -C "$b" --no-rebuild --print-errorlogs >"$VMK_LOGDIR/meson-$(basename "$b").log" 2>&1
    python3 - "$b/meson-logs/testlog.json" <<'PY' | while read -r res name; do
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    print("pass" if t["result"] == "OK" else "fail", t["name"])
PY
        if [ "$res" = pass ]; then t_pass "unit-$name"; else t_fail "unit-$name" "see $b/meson-logs/testlog.txt"; fi
    done
}

# Nested runs are one single-threaded L1 (QEMU TCG) each: they run as background
# jobs, VMK_JOBS at a time (default 2, one per core), beside the builds and the
# direct tier. Each job's output is kept and printed when all are done.
JOBS=()
SLOTS=$(mktemp -d /tmp/vmkit-slots.XXXXXX)
job() {    # job NAME CMD...: starts now, runs once one of the VMK_JOBS slots is free
    local name=$1; shift
    (
        while :; do
            for i in $(seq "${VMK_JOBS:-2}"); do
                exec 9>"$SLOTS/$i"
                if flock -n 9; then "$@" 9>&- >"$VMK_LOGDIR/job-$name.out" 2>&1; exit 0; fi
                exec 9>&-
            done
            sleep 2
        done
    ) &
    JOBS+=("$VMK_LOGDIR/job-$name.out")
}
wait_jobs() {
    wait
    local n
    for n in "${JOBS[@]}"; do echo "--- $(basename "$n" .out)"; cat "$n"; done
    rm -rf "$SLOTS"
}

run_tier() {
    local b=$1
    meson_suite "$b"
    local VMK_LOGDIR="$VMK_LOGDIR/$(basename "$b")"
    mkdir -p "$VMK_LOGDIR"; export VMK_LOGDIR
    bash tests/integration/kvm-access.sh "$b"
    # The direct tier: on this host's /dev/kvm, or as one more L1 run when there is none.
    if [ "$kind" = none ]; then
        job "${VMK_PREFIX:-}direct" bash tests/integration/direct.sh "$b"
    else
        bash tests/integration/direct.sh "$b"
    fi
    # Every nested-*.sh is one L1 run of its own (networking, EFI, ...).
    local s
    for s in tests/integration/nested.sh tests/integration/nested-*.sh; do
        [ -f "$s" ] || continue
        if [ "$kind" = hardware ]; then
            job "${VMK_PREFIX:-}$(basename "$s" .sh)" env VMK_DIRECT=1 bash "$s" "$b"
        else
            job "${VMK_PREFIX:-}$(basename "$s" .sh)" bash "$s" "$b"
        fi
    done
}

build() {
    local b=$1; shift
    { [ -f "$b/build.ninja" ] || meson setup "$b" "$@"; } >"$VMK_LOGDIR/setup-$(basename "$b").log" 2>&1 &&
        ninja -C "$b" >"$VMK_LOGDIR/ninja-$(basename "$b").log" 2>&1
}

# Formatting: the checked-in .clang-format is the style.
unformatted=$(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/unit/*.c' 'tests/api/*.c' 'tests/fuzz/*.c' 'tests/guest/*.c' |
    while read -r f; do clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
if [ -z "$unformatted" ]; then t_pass clang-format; else t_fail clang-format "run clang-format -i on: $unformatted"; fi
# Layers (docs/design.md "What may include what"): no include reaches up.
if layers=$(python3 scripts/check-layers.py 2>&1); then t_pass layers; else t_fail layers "$layers"; fi

if build build; then
    t_pass build
    run_tier build
else
    t_fail build "see $VMK_LOGDIR/ninja-build.log"; tail -20 "$VMK_LOGDIR/ninja-build.log"
fi
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
    t_pass asan-build
    # Any sanitizer report fails the run: ASan aborts, UBSan is made to.
    export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    VMK_PREFIX=asan- run_tier build-asan
else
    t_fail asan-build "see $VMK_LOGDIR/ninja-build-asan.log"; tail -20 "$VMK_LOGDIR/ninja-build-asan.log"
fi

# Fuzzers (clang + libFuzzer) over the guest-controlled parsers, time-bounded.
if CC=clang build build-fuzz -Dfuzz=true -Db_sanitize=none; then
    for f in build-fuzz/tests/fuzz_*; do
        [ -f "$f" ] && [ -x "$f" ] || continue
        n=$(basename "$f")
        mkdir -p "build-fuzz/corpus-$n"
        if "$f" -max_total_time="${VMK_FUZZ_SECONDS:-45}" -timeout=10 "build-fuzz/corpus-$n" \
            >"$VMK_LOGDIR/$n.log" 2>&1; then
            t_pass "$n"
        else
            t_fail "$n" "see $VMK_LOGDIR/$n.log"; tail -30 "$VMK_LOGDIR/$n.log"
        fi
    done
else
    t_fail fuzz-build "see $VMK_LOGDIR/ninja-build-fuzz.log"
fi

wait_jobs
passed=$(grep -c '^pass ' "$VMK_RESULTS" || true)
failed=$(grep -c '^fail ' "$VMK_RESULTS" || true)
if [ "$failed" -gt 0 ]; then
    echo "failed:"; grep '^fail ' "$VMK_RESULTS" | sed 's/^fail /  /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
