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
