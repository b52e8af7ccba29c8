#!/usr/bin/env bash
# Installs the Debian packages ferry needs to build, test and benchmark.
# Idempotent: only missing packages are installed, so every make target can call it.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config clang-format
  libgtest-dev
  python3 python3-pytest
  qemu-system-x86   # the yardstick in tests and benchmarks
  iproute2          # network namespaces for network tests
  xz-utils zstd lz4 # unpacking Debian's kernel
  qemu-utils        # qemu-img: the yardstick for ferry image
  zlib1g-dev libzstd-dev  # compressed qcow2 clusters
  clang-14 libclang-rt-14-dev  # libFuzzer for the image parsers (make fuzz)
  libxml2-dev libssl-dev       # ferry import: OVF/libvirt XML, OVA manifest digests
  libext2fs-dev e2fsprogs      # guest fix-ups inside ext filesystems; mkfs/debugfs in tests
  lvm2                         # LVM physical volumes for the fix-up tests (made without device-mapper)
  python3-libvhdi              # an independent VHD reader: checks the differencing disks the tests build
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "ferry: installing missing packages: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
