"""Guest fix-ups inside LVM: a physical volume made by lvm2 itself (on a
loop device, without device-mapper: `--driverloaded n`), whose root logical
volume holds an ext4 filesystem with an fstab naming /dev/xvda1 for /boot.
After import the fstab inside the LV names /dev/vda1, the LV's own
/dev/mapper name is kept, e2fsck is clean, every byte outside the root
filesystem is unchanged, and an LV that is not one contiguous run is
reported instead of being guessed at."""

import json
import os
import shutil
import subprocess

import pytest

from image_helpers import MiB, build_disk, debugfs_cat, ferry_bin, make_swap, mkfs_ext4


def can_make_pvs():
    if os.geteuid() != 0 or not shutil.which("losetup") or not shutil.which("pvcreate"):
        return False
    return subprocess.run(["losetup", "-f"], capture_output=True).returncode == 0


pytestmark = [pytest.mark.skipif(not shutil.which("mke2fs"), reason="e2fsprogs missing"),
              pytest.mark.skipif(not can_make_pvs(), reason="needs root, loop devices and lvm2")]

EXTENT = 4 * MiB
LVM_ENV = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")


def lvm(*args):
    r = subprocess.run(list(map(str, args)), capture_output=True, text=True, env=LVM_ENV)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


def make_pv(path, size, vg):
    """A PV of `size` bytes holding VG `vg` with LVs root (24 MiB), swap
    (4 MiB) and a two-piece `split` (one extent, then one more after swap).
    Returns (pe_start, {lv: [(first_pe, count), ...]}) as lvm2 reports them."""
    with open(path, "wb") as f:
        f.truncate(size)
    dev = subprocess.run(["losetup", "-f", "--show", str(path)], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        lvm("pvcreate", "-ff", "-y", dev)
        lvm("vgcreate", "-s", "4m", vg, dev)
        for name, mib in (("root", 24), ("split", 4), ("swap", 4)):
            lvm("lvcreate", "--driverloaded", "n", "-an", "-Zn", "-L", f"{mib}m", "-n", name, vg)
        lvm("lvextend", "--driverloaded", "n", "-L", "8m", f"{vg}/split")
        pe_start = int(lvm("pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start",
                           dev).strip())
        ranges = {}
        for line in lvm("lvs", "--driverloaded", "n", "--noheadings", "-o",
                        "lv_name,seg_pe_ranges", "--segments", vg).splitlines():
            name, pe_range = line.split()
            first, last = map(int, pe_range.split(":")[1].split("-"))
            ranges.setdefault(name, []).append((first, last - first + 1))
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)
    return pe_start, ranges


FSTAB = b"""/dev/mapper/VG-root  /      ext4  errors=remount-ro  0 1
/dev/xvda1           /boot  ext4  defaults           0 2
/dev/mapper/VG-swap  none   swap  sw                 0 0
"""


def test_fstab_inside_an_lvm_root_is_rewritten(tmp_path):
    vg = f"vgferry{os.getpid()}"
    fstab = FSTAB.replace(b"VG", vg.encode())
    pv = tmp_path / "pv.img"
    pe_start, ranges = make_pv(pv, 64 * MiB, vg)
    assert len(ranges["root"]) == 1 and len(ranges["split"]) == 2, ranges
    root_at = pe_start + ranges["root"][0][0] * EXTENT
    swap_at = pe_start + ranges["swap"][0][0] * EXTENT
    root = mkfs_ext4(tmp_path / "root.img", 24 * MiB,
                     {"etc/fstab": fstab, "etc/hostname": b"lvm-guest\n"}, "root")
    with open(pv, "r+b") as f:
        f.seek(root_at)
        f.write(root.read_bytes())
        f.seek(swap_at)
        f.write(make_swap(4 * MiB))
    boot = mkfs_ext4(tmp_path / "boot.img", 8 * MiB,
                     {"grub/grub.cfg": b"linux /vmlinuz root=/dev/mapper/x-root ro\n"}, "boot")
    disk = tmp_path / "guest.raw"
    spans = build_disk(disk, [boot.read_bytes(), pv.read_bytes()], "mbr")
    original = disk.read_bytes()

    xml = tmp_path / "guest.xml"
    xml.write_text(f"""<domain type='xen'><name>lvmguest</name><memory unit='MiB'>256</memory>
<vcpu>1</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>
<target dev='xvda' bus='xen'/></disk></devices></domain>""")
    out = tmp_path / "vm"
    r = subprocess.run([str(ferry_bin()), "import", str(xml), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert disk.read_bytes() == original  # the source is never written

    result = out / "disk0.raw"
    lv_root = spans[1][0] + root_at
    assert debugfs_cat(result, lv_root, "/etc/fstab") == fstab.replace(b"/dev/xvda1",
                                                                        b"/dev/vda1")
    assert debugfs_cat(result, lv_root, "/etc/hostname") == b"lvm-guest\n"
    part = tmp_path / "lv-root.img"
    after = result.read_bytes()
    part.write_bytes(after[lv_root:lv_root + 24 * MiB])
    fsck = subprocess.run(["e2fsck", "-fn", str(part)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout
    assert after[:lv_root] == original[:lv_root]
    assert after[lv_root + 24 * MiB:] == original[lv_root + 24 * MiB:]
    assert f"disk 0 partition 2 LV {vg}/root: /etc/fstab: 1 device name(s) rewritten" in r.stdout
    assert f"LV {vg}/split not inspected: its segments are not one contiguous run" in r.stdout
    vm = json.loads((out / "vm.json").read_text())
    assert any("LV " + vg + "/split" in s for s in vm["not_carried_over"]), vm


def test_damaged_lvm_metadata_is_reported_not_guessed(tmp_path):
    vg = f"vgbad{os.getpid()}"
    pv = tmp_path / "pv.img"
    make_pv(pv, 64 * MiB, vg)
    data = bytearray(pv.read_bytes())
    text_at = data.rindex(vg.encode() + b" {")  # the newest copy in the metadata ring
    data[text_at + 2] ^= 0x20  # the metadata text's checksum no longer matches
    disk = tmp_path / "guest.raw"
    build_disk(disk, [bytes(data)], "gpt")
    xml = tmp_path / "guest.xml"
    xml.write_text(f"""<domain type='kvm'><name>bad</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>
<target dev='sda' bus='scsi'/></disk></devices></domain>""")
    r = subprocess.run([str(ferry_bin()), "import", str(xml), "--out", str(tmp_path / "vm")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "disk 0 partition 1: LVM physical volume: metadata text checksum mismatch" in r.stdout
