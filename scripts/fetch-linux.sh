#!/usr/bin/env bash
# Fetches Debian's cloud kernel with `apt-get download` (never installed on the
# host), unpacks it and extracts the uncompressed vmlinux, whose PVH entry note
# ferry boots. Output: $OUT/vmlinuz (bzImage) and $OUT/vmlinux (ELF).
# Usage: scripts/fetch-linux.sh [OUT_DIR]   (default: build/linux)
set -euo pipefail

out=${1:-build/linux}
if [ -s "$out/vmlinux" ] && [ -s "$out/vmlinuz" ]; then
  echo "$out/vmlinux"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The meta package names the current ABI's image package.
resolve() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
image_pkg=$(resolve)
if [ -z "$image_pkg" ]; then
  # A fresh machine may not have package lists yet.
  apt-get update >/dev/null 2>&1 || true
  image_pkg=$(resolve)
fi
if [ -z "$image_pkg" ]; then
  echo "fetch-linux: cannot resolve linux-image-cloud-amd64 (run apt-get update?)" >&2
  exit 1
fi
(cd "$work" && apt-get download "$image_pkg" >/dev/null 2>&1) ||
  (apt-get update >/dev/null 2>&1 && cd "$work" && apt-get download "$image_pkg" >/dev/null 2>&1) || {
  echo "fetch-linux: apt-get download $image_pkg failed" >&2
  exit 1
}
dpkg-deb -x "$work"/*.deb "$work/root"
cp "$work"/root/boot/vmlinuz-* "$out/vmlinuz"
/usr/bin/python3 "$(dirname "$0")/extract-vmlinux.py" "$out/vmlinuz" "$out/vmlinux.tmp"
mv "$out/vmlinux.tmp" "$out/vmlinux"
echo "$out/vmlinux"
