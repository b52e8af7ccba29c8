"""ferry import of a script that starts QEMU by hand: -m, -smp, -drive and
-blockdev/-device disks in the guest's order, the NIC's MAC, and -kernel /
-append carried into vm.json (which `ferry run --vm` boots directly); the
disks come out byte for byte."""

import json
import subprocess

import pytest

from image_helpers import MiB, ferry_bin, have_qemu_img, qemu_img, write_pattern_raw

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]

SCRIPT = """#!/bin/sh
# started from rc.local
qemu-system-x86_64 -enable-kvm -name web -m 1536M -smp 2 \\
  -drive file=data.raw,if=none,id=d1,format=raw \\
  -drive file=root.qcow2,if=virtio,format=qcow2 \\
  -device virtio-blk-pci,drive=d1 \\
  -netdev tap,id=n0,ifname=tap0,script=no \\
  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:99 \\
  -kernel /boot/vmlinuz-guest -append "root=/dev/vda1 console=ttyS0" \\
  -display none -daemonize
"""


def test_qemu_script_import(tmp_path):
    root = write_pattern_raw(tmp_path / "root.raw", 8 * MiB, seed=3)
    data = write_pattern_raw(tmp_path / "data.raw", 8 * MiB, seed=4)
    qemu_img("convert", "-O", "qcow2", root, tmp_path / "root.qcow2")
    script = tmp_path / "start-web.sh"
    script.write_text(SCRIPT)
    out = tmp_path / "vm"
    r = subprocess.run([str(ferry_bin()), "import", str(script), "--out", str(out),
                        "--no-fixup"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    vm = json.loads((out / "vm.json").read_text())
    assert vm["imported_from"]["kind"] == "qemu"
    assert (vm["name"], vm["memory"], vm["vcpus"]) == ("web", 1536 * MiB, 2)
    assert (vm["kernel"], vm["cmdline"]) == ("/boot/vmlinuz-guest", "root=/dev/vda1 console=ttyS0")
    assert [n["mac"] for n in vm["nics"]] == ["52:54:00:12:34:99"]
    assert (out / "disk0.raw").read_bytes() == root.read_bytes()
    assert (out / "disk1.raw").read_bytes() == data.read_bytes()
    assert "boot it with: ferry run --vm" in r.stdout and "--kernel" not in r.stdout.split(
        "boot it with:")[1].splitlines()[0]
