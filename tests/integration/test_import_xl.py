"""ferry import of a Xen xl configuration (/etc/xen/NAME.cfg): the machine,
disks in the guest's letter order whatever order the file lists them in
(legacy `tap:qcow2:` and key=value disk specs), vif MAC addresses kept,
a CD-ROM and a framebuffer reported as left behind, and the fstab inside the
root disk rewritten from /dev/xvdX to /dev/vdX."""

import json
import shutil
import subprocess

import pytest

from image_helpers import (MiB, build_disk, debugfs_cat, ferry_bin, have_qemu_img, mkfs_ext4,
                           qemu_img)

pytestmark = [pytest.mark.skipif(not have_qemu_img() or not shutil.which("mke2fs"),
                                 reason="qemu-img or e2fsprogs missing"),
              pytest.mark.sanitizer]

FSTAB = b"/dev/xvda1 / ext4 errors=remount-ro 0 1\n/dev/xvdb1 /srv ext4 defaults 0 2\n"

CONFIG = """# Xen 4.17 guest
name = "xenweb"
type = "pvh"
kernel = "/usr/lib/xen/boot/vmlinuz-pvh"
memory = 768
vcpus = 2
disk = [ 'format=raw, vdev=xvdb, access=rw, target=data.raw',
         'tap:qcow2:{root},xvda,w',
         ',raw,hdc:cdrom,r' ]
vif = [ 'mac=00:16:3e:12:34:56, bridge=xenbr0' ]
vfb = [ 'vnc=1' ]
"""


def test_xl_config_import(tmp_path):
    root_fs = mkfs_ext4(tmp_path / "root.img", 16 * MiB, {"etc/fstab": FSTAB}, "root")
    data_fs = mkfs_ext4(tmp_path / "data.img", 8 * MiB, {"www/index.html": b"hi\n"}, "srv")
    root_raw, data_raw = tmp_path / "root.raw", tmp_path / "data.raw"
    build_disk(root_raw, [root_fs.read_bytes()], "mbr")
    data_spans = build_disk(data_raw, [data_fs.read_bytes()], "gpt")
    qemu_img("convert", "-O", "qcow2", root_raw, tmp_path / "root.qcow2")
    cfg = tmp_path / "xenweb.cfg"
    cfg.write_text(CONFIG.format(root=tmp_path / "root.qcow2"))
    out = tmp_path / "vm"
    r = subprocess.run([str(ferry_bin()), "import", str(cfg), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    vm = json.loads((out / "vm.json").read_text())
    assert vm["imported_from"]["kind"] == "xl"
    assert (vm["name"], vm["memory"], vm["vcpus"]) == ("xenweb", 768 * MiB, 2)
    assert [d["source_target"] for d in vm["disks"]] == ["xvda", "xvdb"]
    assert [n["mac"] for n in vm["nics"]] == ["00:16:3e:12:34:56"]
    assert any("CD/DVD hdc" in s for s in vm["not_carried_over"])
    assert any("'vfb' devices" in s for s in vm["not_carried_over"])
    assert any("Xen pvh guest" in s for s in vm["notes"])
    # disk0 is the root disk (xvda) even though the file lists it second
    fstab = debugfs_cat(out / "disk0.raw", 1 * MiB, "/etc/fstab")
    assert fstab == FSTAB.replace(b"/dev/xvda1", b"/dev/vda1").replace(b"/dev/xvdb1", b"/dev/vdb1")
    assert (out / "disk1.raw").read_bytes() == data_raw.read_bytes()
    assert debugfs_cat(out / "disk1.raw", data_spans[0][0], "/www/index.html") == b"hi\n"


def test_broken_xl_config_is_one_line(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("name = 'x'\nmemory = 512\ndisk = [ 'phy:/dev/vg/x,xvda' ]\n")
    r = subprocess.run([str(ferry_bin()), "import", str(cfg), "--out", str(tmp_path / "vm")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "ferry import: xl config: disk 'phy:/dev/vg/x,xvda': expected TARGET,VDEV,ACCESS or "
        "key=value settings"]
    assert not (tmp_path / "vm").exists()
