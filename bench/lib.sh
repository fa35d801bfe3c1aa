# Shared by the bench/*.sh scripts (sourced; they set HERE, ROOT and `set -euo pipefail`).
# BENCH_NAME names the script in messages ("net.sh").

# Guest packages: Debian's .deb files, downloaded once into the guest cache (apt-get download
# needs no root state) and unpacked with dpkg -x. Sets CACHE and G (the guest directory).
bench_guest_dirs() {
    "$ROOT/tools/guest/build-guest.sh" >/dev/null
    CACHE=$("$ROOT/tools/guest/build-guest.sh" --print-dir)
    G=$("$ROOT/tools/guest/build-guest.sh" --print-guest-dir)
    mkdir -p "$CACHE/debs"
}

bench_fetch_deb() {    # PKG DIR: the newest cached PKG_*.deb (downloaded when none) unpacked into DIR
    local deb
    deb=$(ls -t "$CACHE/debs/$1"_*.deb 2>/dev/null | head -n1 || true)
    if [[ -z $deb ]]; then
        echo "$BENCH_NAME: downloading $1" >&2
        (cd "$CACHE/debs" && apt-get download -q "$1" >&2 2>/dev/null) ||
            (cd "$CACHE/debs" && apt-get download "$1" >&2)
        deb=$(ls -t "$CACHE/debs/$1"_*.deb | head -n1)
    fi
    mkdir -p "$2"
    dpkg -x "$deb" "$2"
}

# The library path for binaries unpacked into DIR.
bench_libpath() { echo "$1/usr/lib/x86_64-linux-gnu:$1/lib/x86_64-linux-gnu"; }

bench_check_libs() {    # BIN DIR: fails when BIN needs a library neither DIR nor the host has
    local missing
    missing=$(LD_LIBRARY_PATH=$(bench_libpath "$2") ldd "$1" | grep 'not found' || true)
    [[ -z $missing ]] && return 0
    echo "$BENCH_NAME: $(basename "$1") needs libraries this host lacks:" >&2
    echo "$missing" >&2
    return 1
}

bench_copy_libs() {    # BIN DIR OVERLAY: BIN's shared libraries (from DIR or the host) into OVERLAY
    local lib dst
    while read -r lib; do
        dst=${lib#"$2"}
        mkdir -p "$3$(dirname "$dst")"
        cp -L "$lib" "$3$dst"
    done < <(LD_LIBRARY_PATH=$(bench_libpath "$2") ldd "$1" |
             sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
}

# The stock test initrd with OVERLAY appended as an uncompressed cpio. The kernel unpacks
# concatenated archives in order; an uncompressed one must start 4-byte aligned, hence the
# zero padding after the gzip'd base. OUT gets no x bit: run-l1.sh then puts it in L1's /data.
bench_initrd() {    # OVERLAY OUT
    {
        cat "$G/initrd.cpio.gz"
        head -c $(( (4 - $(stat -c %s "$G/initrd.cpio.gz") % 4) % 4 )) /dev/zero
        (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
    } > "$2"
    chmod 0644 "$2"
}

# Runs L1 with the generated script and files; sets log and md (bench/results/KIND-stamp.*).
# Fails, with the log's tail, when L1 did not print BENCH-DONE.
bench_run_l1() {    # KIND RUN-L1-ARGS... -- L1-SCRIPT FILES...
    local kind=$1 rc=0; shift
    mkdir -p "$HERE/results"
    local stamp
    stamp=$(date +%Y%m%d-%H%M)
    log=$HERE/results/$kind-$stamp.log
    md=$HERE/results/$kind-$stamp.md
    local args=()
    while [[ $1 != -- ]]; do args+=("$1"); shift; done
    shift
    "$ROOT/tests/nested/run-l1.sh" "${args[@]}" "$@" > "$log" 2>&1 || rc=$?
    [[ $rc == 0 ]] || echo "$BENCH_NAME: run-l1.sh exited $rc" >&2
    grep -q BENCH-DONE "$log" && return 0
    echo "$BENCH_NAME: L1 did not finish; see $log" >&2
    tail -n 30 "$log" >&2
    exit 1
}

# awk's median of a[1..n] (sorts a), for the result tables.
BENCH_AWK_MED='
function med(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (n == 0) return -1
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}'

# L1 shell functions (paste into a generated L1 script) for exit counts around guest jobs:
# the guest prints "BENCH-MARK LABEL" on its console (and then pauses 2 s: busybox tail -F looks once a second); a watcher
# following vmmrun's log (-o, line-buffered) appends one line per mark to OUT with L1's KVM
# counters (debugfs, summed over VMs: one runs at a time) and L1's context switches:
#   label=LABEL exits=N io_exits=N ... ctxt=N
# bench_watch_start LOG OUT before vmmrun, bench_watch_stop after it.
BENCH_L1_WATCH='
mkdir -p /sys/kernel/debug && mount -t debugfs none /sys/kernel/debug 2>/dev/null
kvmsnap() {
    set -- "$1"
    lab=$1; shift
    for f in /sys/kernel/debug/kvm/*; do [ -f "$f" ] && set -- "$@" "$f"; done
    [ $# -gt 0 ] || set -- /dev/null
    awk -v lab="$lab" '\''BEGIN { printf "label=%s", lab }
        FNR == 1 { n = FILENAME; sub(/.*\//, "", n); printf " %s=%s", n, $1 }
        END { while ((getline l < "/proc/stat") > 0) if (l ~ /^ctxt /) { split(l, a, " "); printf " ctxt=%s", a[2] }; printf "\n" }'\'' "$@"
}
bench_watch_start() {
    : > "$1"; : > "$2"
    rm -f /tmp/bench-mark.fifo && mkfifo /tmp/bench-mark.fifo
    while read -r l; do
        case $l in *BENCH-MARK\ *) lab=${l##*BENCH-MARK }; lab=${lab%%[!A-Za-z0-9_-]*}; kvmsnap "$lab" >> "$2" ;; esac
    done < /tmp/bench-mark.fifo &
    bench_wp=$!
    tail -F "$1" > /tmp/bench-mark.fifo 2>/dev/null &
    bench_tp=$!
}
bench_watch_stop() { kill $bench_tp 2>/dev/null; wait $bench_wp 2>/dev/null; }
'

# A markdown table from "BENCH-VAL round=R cfg=C key=K val=V" lines in LOG: one row per
# KEY (in the order given, "KEY|row title"), one column per configuration (medians over
# rounds), then VMKIT/QEMU ratios for each "vmkit-cfg/qemu-cfg" pair in PAIRS.
bench_val_table() {    # LOG "CFG ..." "VMKIT/QEMU ..." "KEY|TITLE" ...
    local log=$1 cfgs=$2 pairs=$3; shift 3
    tr -d '\r' < "$log" | awk -v cfgs="$cfgs" -v pairs="$pairs" -v rows="$(printf '%s\n' "$@")" "$BENCH_AWK_MED"'
    function kv(   i, p) { delete f; for (i = 1; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) } }
    function get(c, k,   i, a) { delete a; for (i = 1; i <= nn[c, k]; i++) a[i] = V[c, k, i]; return med(a, nn[c, k] + 0) }
    function cell(x) { return x < 0 ? "-" : sprintf(x >= 100 ? "%.0f" : "%.2f", x) }
    /^BENCH-VAL / { kv(); c = f["cfg"]; k = f["key"]; if (f["val"] != "") V[c, k, ++nn[c, k]] = f["val"] + 0 }
    /^BENCH round=/ { kv(); runs[f["cfg"]]++; if (f["rc"] != 0) fail[f["cfg"]]++ }
    END {
        nc = split(cfgs, C, " "); np = split(pairs, P, " "); nr = split(rows, R, "\n"); if (R[nr] == "") nr--
        printf "| metric |"; for (i = 1; i <= nc; i++) printf " %s |", C[i]
        for (i = 1; i <= np; i++) { split(P[i], pp, "/"); printf " %s / %s |", pp[1], pp[2] }
        printf "\n|---|"; for (i = 1; i <= nc + np; i++) printf "---|"; printf "\n"
        for (r = 1; r <= nr; r++) {
            split(R[r], kt, "|"); printf "| %s |", kt[2]
            for (i = 1; i <= nc; i++) printf " %s |", cell(get(C[i], kt[1]))
            for (i = 1; i <= np; i++) { split(P[i], pp, "/"); a = get(pp[1], kt[1]); b = get(pp[2], kt[1])
                printf " %s |", (a < 0 || b <= 0) ? "-" : sprintf("**%.2f**", a / b) }
            printf "\n"
        }
        printf "| runs (failed) |"; for (i = 1; i <= nc; i++) printf " %d (%d) |", runs[C[i]], fail[C[i]]
        for (i = 1; i <= np; i++) printf " |"; printf "\n"
    }'
}

# Per-run values of every BENCH-VAL key, one line per configuration and key.
bench_val_runs() {    # LOG
    tr -d '\r' < "$1" | awk '/^BENCH-VAL / {
        delete f; for (i = 1; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) }
        key = f["cfg"] " " f["key"]; if (!(key in s)) { order[++no] = key; s[key] = f["val"] } else s[key] = s[key] ", " f["val"] }
        END { for (i = 1; i <= no; i++) printf "- %s: %s\n", order[i], s[order[i]] }'
}

# L1 KVM counters per job from "BENCH-KVM round=R cfg=C label=JOB-start|JOB-end k=v..."
# lines: (end - start) / DIV, medians over rounds, for JOB:DIV pairs; one column per
# configuration and job. Counters that are 0 everywhere are left out.
# PREFIX (default BENCH-KVM) reads other lines of the same form.
bench_kvm_table() {    # LOG "CFG ..." "JOB:DIV ..." [COUNTERS [PREFIX]]
    local ctrs=${4:-exits io_exits mmio_exits halt_exits halt_wakeup irq_exits irq_window_exits irq_injections insn_emulation ctxt}
    tr -d '\r' < "$1" | awk -v cfgs="$2" -v jobs="$3" -v ctrs="$ctrs" -v pre="${5:-BENCH-KVM}" "$BENCH_AWK_MED"'
    $1 == pre {
        delete f; for (i = 2; i <= NF; i++) { p = index($i, "="); if (p) f[substr($i, 1, p - 1)] = substr($i, p + 1) }
        for (k in f) if (k != "cfg" && k != "round" && k != "label") V[f["cfg"], f["round"], f["label"], k] = f[k] + 0
        rounds[f["round"]] = 1
    }
    END {
        nc = split(cfgs, C, " "); nj = split(jobs, J, " "); nk = split(ctrs, K, " ")
        printf "| counter |"; for (j = 1; j <= nj; j++) { split(J[j], jd, ":"); for (i = 1; i <= nc; i++) printf " %s %s |", C[i], jd[1] }
        printf "\n|---|"; for (i = 1; i <= nc * nj; i++) printf "---|"; printf "\n"
        for (ki = 1; ki <= nk; ki++) {
            k = K[ki]; line = "| " k " |"; any = 0
            for (j = 1; j <= nj; j++) { split(J[j], jd, ":")
                for (i = 1; i <= nc; i++) { n = 0; delete a
                    for (r in rounds) if ((C[i], r, jd[1] "-start", k) in V && (C[i], r, jd[1] "-end", k) in V)
                        a[++n] = (V[C[i], r, jd[1] "-end", k] - V[C[i], r, jd[1] "-start", k]) / jd[2]
                    m = n ? med(a, n) : 0; if (m != 0) any = 1
                    line = line (n ? sprintf(m >= 100 ? " %.0f |" : " %.2f |", m) : " - |") } }
            if (any) print line
        }
    }'
}
