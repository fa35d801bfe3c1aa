#!/usr/bin/env bash
# The test guest on Debian's full kernel (linux-image-amd64), for devices whose drivers the cloud
# kernel lacks (DRM: virtio_gpu). Builds on tools/guest/build-guest.sh's cache and initrd:
#
#   tools/guest/build-guest-full.sh     build (or reuse) and print the output folder, holding
#     vmlinuz-full         the full kernel
#     modules-full.cpio.gz an archive to append to build-guest.sh's initrd.cpio.gz: the full
#                          kernel's modules for the same list plus virtio_gpu and what it needs,
#                          /etc/modules and /etc/kernel-release replaced (a later cpio member
#                          of the same name wins when the kernel unpacks the initramfs)
set -euo pipefail
exec </dev/null
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$HERE/build-guest.sh" >/dev/null
CACHE=$("$HERE/build-guest.sh" --print-dir)
G=$("$HERE/build-guest.sh" --print-guest-dir)
log() { echo "build-guest-full: $*" >&2; }

kpkg=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
       sed -n 's/^Depends: *\(linux-image-[^ ,]*-amd64\).*/\1/p' | head -n1 || true)
if [[ -z $kpkg ]]; then
    kpkg=$(cd "$CACHE/pkg" && ls -d linux-image-*[0-9]-amd64 2>/dev/null | sort -V | tail -n1 || true)
    [[ -n $kpkg ]] || { log "cannot resolve linux-image-amd64 (apt-get update?)"; exit 1; }
fi
kdir=$("$HERE/build-guest.sh" --fetch "$kpkg")
krel=${kpkg#linux-image-}
kmod="$kdir/lib/modules/$krel/kernel"
[[ -f $kdir/boot/vmlinuz-$krel && -d $kmod ]] || { log "unexpected package layout"; exit 1; }

stamp=$( { cat "${BASH_SOURCE[0]}" "$HERE/build-guest.sh"; echo "$kpkg"; } | sha256sum | cut -c1-32)
if [[ -f $G/.stamp-full && $(cat "$G/.stamp-full") == "$stamp" && -f $G/modules-full.cpio.gz ]]; then
    echo "$G"
    exit 0
fi
# The base list (build-guest.sh's WANT) and the display stack.
mapfile -t WANT < <(sed -n '/^WANT=(/,/)/p' "$HERE/build-guest.sh" | tr -d '()' | sed 's/WANT=//' | tr ' ' '\n' | grep -v '^$')
WANT+=(virtio_gpu)

declare -A KO=()
while IFS= read -r f; do
    b=$(basename "$f"); b=${b%%.ko*}; KO[${b//-/_}]=$f
done < <(find "$kmod" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
ko_cat() { case $1 in *.xz) xz -dc "$1" ;; *.zst) zstd -qdc "$1" ;; *.gz) gzip -dc "$1" ;; *) cat "$1" ;; esac; }
ko_deps() { ko_cat "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '; }
declare -A SEEN=()
ORDER=()
visit() {
    local n=${1//-/_} d
    [[ -n ${SEEN[$n]:-} ]] && return 0
    SEEN[$n]=1
    [[ -n ${KO[$n]:-} ]] || return 0
    for d in $(ko_deps "${KO[$n]}"); do visit "$d"; done
    ORDER+=("$n")
}
for m in "${WANT[@]}"; do visit "$m"; done
[[ " ${ORDER[*]} " == *" virtio_gpu "* ]] || { log "no virtio_gpu module in $kpkg"; exit 1; }

work=$(mktemp -d "$G/.full.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/lib/modules" "$work/root/etc"
for n in "${ORDER[@]}"; do ko_cat "${KO[$n]}" >"$work/root/lib/modules/$n.ko"; done
printf '%s\n' "${ORDER[@]}" >"$work/root/etc/modules"
echo "$krel" >"$work/root/etc/kernel-release"
find "$work/root" -exec touch -h -d @0 {} +
(cd "$work/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
    gzip -9 -n >"$work/modules-full.cpio.gz"
mv "$work/modules-full.cpio.gz" "$G/modules-full.cpio.gz"
cp "$kdir/boot/vmlinuz-$krel" "$G/.vmlinuz-full.tmp" && mv "$G/.vmlinuz-full.tmp" "$G/vmlinuz-full"
echo "$stamp" >"$G/.stamp-full"
log "built for $krel (${#ORDER[@]} modules)"
echo "$G"
