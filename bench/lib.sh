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
