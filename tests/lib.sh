# Shared by the integration test scripts: result bookkeeping and helpers.
# Every check appends "pass NAME" or "fail NAME" to $VMK_RESULTS; the runner
# counts them for the final "N passed, N failed" line.
VMK_RESULTS=${VMK_RESULTS:-/tmp/vmkit-results.$$}
VMK_LOGDIR=${VMK_LOGDIR:-/tmp/vmkit-logs}
mkdir -p "$VMK_LOGDIR"

t_pass() { echo "ok - ${VMK_PREFIX:-}$1"; echo "pass ${VMK_PREFIX:-}$1" >>"$VMK_RESULTS"; }
t_fail() { echo "not ok - ${VMK_PREFIX:-}$1${2:+: $2}"; echo "fail ${VMK_PREFIX:-}$1" >>"$VMK_RESULTS"; }

# t_expect NAME LOG PATTERN...: every extended regex must match LOG.
t_expect() {
    local name=$1 log=$2; shift 2
    local p
    for p in "$@"; do
        if ! grep -Eq -- "$p" "$log"; then
            t_fail "$name" "missing /$p/ in $log"
            sed 's/^/    | /' "$log" | tail -25
            return 1
        fi
    done
    t_pass "$name"
}

# t_absent NAME LOG PATTERN: the regex must not match LOG.
t_absent() {
    if grep -Eq -- "$3" "$2"; then
        t_fail "$1" "unexpected /$3/ in $2"
        grep -E -- "$3" "$2" | head -5 | sed 's/^/    | /'
        return 1
    fi
    t_pass "$1"
}

# Nested tier (tests/integration/nested*.sh): $log is the L1 console, each
# test fenced by "=== BEGIN NAME" / "=== END NAME rc=N" (run() in the L1 script).
# section NAME: the fenced output of one test.
section() { tr -d '\r' <"$log" | awk -v n="$1" '$0=="=== BEGIN " n {on=1; next} on && index($0, "=== END " n " ")==1 {print; exit} on'; }
# check NAME PATTERN...: the test ended with rc=0 and printed every pattern.
check() {
    local name=$1; shift
    local f="$VMK_LOGDIR/nested-$name.log"
    section "$name" >"$f"
    t_expect "nested-$name" "$f" "=== END $name rc=0" "$@"
}
# same_values NAME KEY1 KEY2: the first KEY1=value and KEY2=value lines of a
# section agree (a key may follow a prefix such as "A|", never other letters).
same_values() {
    local f="$VMK_LOGDIR/nested-$1.log" a b
    a=$(grep -Eo "(^|[^A-Za-z0-9_-])$2=[^ ]+" "$f" | head -1 | sed "s/^.*$2=//")
    b=$(grep -Eo "(^|[^A-Za-z0-9_-])$3=[^ ]+" "$f" | head -1 | sed "s/^.*$3=//")
    if [ -n "$a" ] && [ "$a" = "$b" ]; then t_pass "nested-$1-$2"; else t_fail "nested-$1-$2" "$2=${a:-?} $3=${b:-?}"; fi
}
# screen_text NAME LOG: the screenshot png_out printed as NAME in LOG (tests/nested/l1-lib.sh)
# goes to $VMK_LOGDIR/screen-NAME.png, what tesseract reads on it to screen-NAME.txt, whose
# path is printed. Fails when there is no picture.
screen_text() {
    local png="$VMK_LOGDIR/screen-$1.png" txt="$VMK_LOGDIR/screen-$1.txt"
    sed -n "/^=== PNG $1\r*\$/,/^=== PNG-END/p" "$2" | sed '1d;$d' | tr -d '\r' | base64 -d >"$png" 2>/dev/null
    [ -s "$png" ] || return 1
    tesseract "$png" - >"$txt" 2>/dev/null || return 1
    echo "$txt"
}
