#!/usr/bin/env bash
# Installs what building and testing vmkit needs on Debian 12 (idempotent).
set -euo pipefail
pkgs=(meson ninja-build gcc socat qemu-guest-agent pkg-config make cpio gzip xz-utils qemu-system-x86 clang libclang-rt-14-dev liburing-dev libslirp-dev clang-format e2fsprogs xorriso ovmf libmicrohttpd-dev libjson-c-dev curl libpng-dev tesseract-ocr tesseract-ocr-eng libdrm-dev libvncserver-dev libsdl2-dev novnc imagemagick xvfb x11-apps xdotool chromium)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q </dev/null
    $SUDO apt-get install -y -q "${missing[@]}" </dev/null
fi
