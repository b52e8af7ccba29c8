"""Guest fix-ups on import: real ext4 filesystems (mke2fs -d) inside MBR
and GPT tables; fstab naming /dev/xvda1 and /dev/sda2 comes out naming
/dev/vda1 and /dev/vda2 (or UUID=), grub's root= too, every other file
byte-identical, e2fsck clean; kernels without virtio drivers reported."""

import gzip
import json
import shutil
import subprocess

import pytest

from image_helpers import (MiB, build_disk, debugfs_cat, ferry_bin, fs_uuid, have_qemu_img,
                           make_swap, mkfs_ext4, qemu_img)

pytestmark = [pytest.mark.skipif(not have_qemu_img() or not shutil.which("mke2fs"),
                                 reason="qemu-img or e2fsprogs missing"),
              pytest.mark.sanitizer]

FSTAB = b"""# /etc/fstab: static file system information.
/dev/xvda1  /      ext4  errors=remount-ro  0 1
/dev/sda2   /srv   ext4  defaults           0 2
/dev/hda3   none   swap  sw                 0 0
/dev/sdb    /data  ext4  noauto             0 0
/dev/mapper/vg-lv /opt ext4 defaults 0 2
"""
GRUB = b"""menuentry 'Debian' {
    linux /boot/vmlinuz-6.1.0-test root=/dev/xvda1 ro quiet
    initrd /boot/initrd.img-6.1.0-test
}
menuentry 'Old' {
    linux /boot/vmlinuz-5.10.0-old root=/dev/sda1 ro
}
"""
OTHER = {"etc/hostname": b"guest\n", "etc/motd": b"xvda1 is not a device path here /dev/sdaX\n",
         "var/lib/data.bin": bytes(range(256)) * 64}


def root_tree():
    tree = dict(OTHER)
    tree["etc/fstab"] = FSTAB
    tree["boot/grub/grub.cfg"] = GRUB
    tree["boot/vmlinuz-6.1.0-test"] = b"\x7fELF kernel"
    tree["boot/initrd.img-6.1.0-test"] = gzip.compress(
        b"070701" + b"0" * 100 + b"usr/lib/modules/6.1.0-test/kernel/drivers/block/virtio_blk.ko")
    tree["lib/modules/6.1.0-test/kernel/drivers/block/virtio_blk.ko"] = b"module"
    tree["lib/modules/6.1.0-test/modules.builtin"] = b"kernel/fs/ext4/ext4.ko\n"
    tree["boot/vmlinuz-5.10.0-old"] = b"\x7fELF old kernel"
    tree["lib/modules/5.10.0-old/modules.builtin"] = b"kernel/fs/ext4/ext4.ko\n"
    return tree


def guest_disk(tmp_path, scheme):
    root = mkfs_ext4(tmp_path / "root.img", 24 * MiB, root_tree(), "root")
    srv = mkfs_ext4(tmp_path / "srv.img", 8 * MiB, {"www/index.html": b"<h1>hi</h1>\n"}, "srv")
    parts = [root.read_bytes(), srv.read_bytes(), make_swap(4 * MiB)]
    disk = tmp_path / f"guest-{scheme}.raw"
    spans = build_disk(disk, parts, scheme)
    return disk, spans


def libvirt_xml(disk):
    return f"""<domain type='xen'><name>xenguest</name><memory unit='MiB'>512</memory>
<vcpu>1</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>
<target dev='xvda' bus='xen'/></disk>
<interface type='bridge'><mac address='00:16:3e:00:00:01'/><source bridge='br0'/></interface>
</devices></domain>"""


def run_import(tmp_path, disk, *extra):
    xml = tmp_path / "guest.xml"
    xml.write_text(libvirt_xml(disk))
    out = tmp_path / "vm"
    r = subprocess.run([str(ferry_bin()), "import", str(xml), "--out", str(out), *extra],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out, r.stdout


@pytest.mark.parametrize("scheme", ["mbr", "gpt"])
def test_fstab_and_grub_rewritten(tmp_path, scheme):
    disk, spans = guest_disk(tmp_path, scheme)
    original = disk.read_bytes()
    out, report = run_import(tmp_path, disk, "-O", "qcow2")
    assert disk.read_bytes() == original  # the source is never written
    result = tmp_path / "result.raw"
    qemu_img("convert", "-O", "raw", out / "disk0.qcow2", result)
    root_off, srv_off = spans[0][0], spans[1][0]
    fstab = debugfs_cat(result, root_off, "/etc/fstab")
    assert fstab == (FSTAB.replace(b"/dev/xvda1", b"/dev/vda1").replace(b"/dev/sda2", b"/dev/vda2")
                     .replace(b"/dev/hda3", b"/dev/vda3").replace(b"/dev/sdb ", b"/dev/vdb "))
    grub = debugfs_cat(result, root_off, "/boot/grub/grub.cfg")
    assert b"root=/dev/vda1 ro quiet" in grub and b"root=/dev/xvda1" not in grub
    for name, data in OTHER.items():
        assert debugfs_cat(result, root_off, "/" + name) == data
    assert debugfs_cat(result, srv_off, "/www/index.html") == b"<h1>hi</h1>\n"
    for off, size in spans[:2]:
        part = tmp_path / f"part{off}.img"
        with open(result, "rb") as f, open(part, "wb") as p:
            f.seek(off)
            p.write(f.read(size))
        fsck = subprocess.run(["e2fsck", "-fn", str(part)], capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stdout
    # Nothing outside the root filesystem changed (the srv filesystem, the
    # swap area, the partition table, the gaps).
    with open(result, "rb") as f:
        after = f.read()
    assert after[:root_off] == original[:root_off]
    assert after[spans[1][0]:] == original[spans[1][0]:]
    assert "/etc/fstab: 4 device name(s) rewritten" in report
    assert "kernel 6.1.0-test" in report and "virtio_blk module; initramfs includes it" in report
    assert "kernel 5.10.0-old" in report and "will not find its disk" in report
    vm = json.loads((out / "vm.json").read_text())
    assert vm["nics"][0]["mac"] == "00:16:3e:00:00:01"


def test_fstab_uuid(tmp_path):
    disk, spans = guest_disk(tmp_path, "gpt")
    out, report = run_import(tmp_path, disk, "--fstab-uuid", "-O", "raw")
    result = out / "disk0.raw"
    # The boot hint names the root the fixed fstab mounts on "/".
    assert f"--cmdline 'root=UUID={fs_uuid(disk, spans[0][0])}'" in report
    fstab = debugfs_cat(result, spans[0][0], "/etc/fstab").decode()
    lines = [l.split()[0] for l in fstab.splitlines() if l and not l.startswith("#")]
    assert lines == [f"UUID={fs_uuid(disk, spans[0][0])}", f"UUID={fs_uuid(disk, spans[1][0])}",
                     "UUID=10111213-1415-1617-1819-1a1b1c1d1e1f",
                     "/dev/vdb",  # no second disk: plain virtio name
                     "/dev/mapper/vg-lv"]
    grub = debugfs_cat(result, spans[0][0], "/boot/grub/grub.cfg")
    assert b"root=/dev/vda1" in grub


def test_no_fixup_leaves_disk_alone(tmp_path):
    disk, _ = guest_disk(tmp_path, "mbr")
    out, report = run_import(tmp_path, disk, "--no-fixup", "-O", "raw")
    assert (out / "disk0.raw").read_bytes() == disk.read_bytes()
    assert "fix-ups skipped" in report


def test_disk_without_linux_reported(tmp_path):
    disk = tmp_path / "blank.raw"
    with open(disk, "wb") as f:
        f.truncate(8 * MiB)
    _, report = run_import(tmp_path, disk)
    assert "no ext2/3/4 filesystem found" in report
