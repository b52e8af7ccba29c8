"""ferry import of a Proxmox VE VM configuration (qemu-server/VMID.conf):
memory, cores x sockets, disks found through storage.cfg (a dir storage)
and --storage NAME=DIR (an LVM volume copied to a file), in slot order
whatever order the file lists them, MAC addresses kept, the CD-ROM and EFI
variables disk reported as left behind, and the guest's fstab rewritten
from /dev/sdX (virtio-scsi) to /dev/vdX."""

import json
import shutil
import subprocess

import pytest

from image_helpers import (MiB, build_disk, debugfs_cat, ferry_bin, have_qemu_img, mkfs_ext4,
                           qemu_img)

pytestmark = [pytest.mark.skipif(not have_qemu_img() or not shutil.which("mke2fs"),
                                 reason="qemu-img or e2fsprogs missing"),
              pytest.mark.sanitizer]

FSTAB = b"/dev/sda1 / ext4 errors=remount-ro 0 1\n/dev/sdb1 /srv ext4 defaults 0 2\n"

CONF = """#Web%20front%20end
boot: order=scsi0;ide2;net0
cores: 1
sockets: 2
ide2: local:iso/debian-12.5.0-amd64-netinst.iso,media=cdrom,size=629M
memory: 1536
name: web01
net0: virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1
ostype: l26
scsi1: local-lvm:vm-100-disk-1,iothread=1,size=16M
scsi0: local:100/vm-100-disk-0.qcow2,iothread=1,size=16M
scsihw: virtio-scsi-single
efidisk0: local-lvm:vm-100-disk-2,efitype=4m,size=4M
bios: ovmf

[snap1]
memory: 512
"""


def run_import(*args):
    return subprocess.run([str(ferry_bin()), "import", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_proxmox_import(tmp_path):
    root_fs = mkfs_ext4(tmp_path / "root.img", 8 * MiB, {"etc/fstab": FSTAB}, "root")
    srv_fs = mkfs_ext4(tmp_path / "srv.img", 8 * MiB, {"index.html": b"hi\n"}, "srv")
    root_raw, srv_raw = tmp_path / "root.raw", tmp_path / "srv.raw"
    build_disk(root_raw, [root_fs.read_bytes()], "gpt")
    build_disk(srv_raw, [srv_fs.read_bytes()], "mbr")
    vz = tmp_path / "vz"
    (vz / "images" / "100").mkdir(parents=True)
    qemu_img("convert", "-O", "qcow2", root_raw, vz / "images" / "100" / "vm-100-disk-0.qcow2")
    copied = tmp_path / "copied-lvm"
    copied.mkdir()
    shutil.copy(srv_raw, copied / "vm-100-disk-1")
    pve = tmp_path / "pve"
    pve.mkdir()
    (pve / "100.conf").write_text(CONF)
    (pve / "storage.cfg").write_text(f"dir: local\n\tpath {vz}\n\tcontent iso,images\n\n"
                                     "lvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n")
    out = tmp_path / "vm"
    r = run_import(pve / "100.conf", "--out", out, "--storage", f"local-lvm={copied}")
    assert r.returncode == 0, r.stderr
    vm = json.loads((out / "vm.json").read_text())
    assert vm["imported_from"]["kind"] == "proxmox"
    assert (vm["name"], vm["memory"], vm["vcpus"], vm["firmware"]) == ("web01", 1536 * MiB, 2,
                                                                        "efi")
    assert [d["source_target"] for d in vm["disks"]] == ["scsi0", "scsi1"]
    assert [n["mac"] for n in vm["nics"]] == ["bc:24:11:2a:3b:4c"]
    assert any("CD/DVD ide2" in s for s in vm["not_carried_over"])
    assert any("EFI variables disk" in s for s in vm["not_carried_over"])
    fstab = debugfs_cat(out / "disk0.raw", 1 * MiB, "/etc/fstab")
    assert fstab == FSTAB.replace(b"/dev/sda1", b"/dev/vda1").replace(b"/dev/sdb1", b"/dev/vdb1")
    assert (out / "disk1.raw").read_bytes() == srv_raw.read_bytes()


def test_unknown_storage_says_what_to_give(tmp_path):
    pve = tmp_path / "pve"
    pve.mkdir()
    (pve / "101.conf").write_text("memory: 512\ncores: 1\nscsi0: nas:101/vm-101-disk-0.qcow2\n")
    r = run_import(pve / "101.conf", "--out", tmp_path / "vm", "--storage-cfg", "/dev/null")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "ferry import: proxmox config: scsi0 is on storage 'nas', which storage.cfg does not "
        "name: give --storage nas=DIR (where its disk files are)"]
    assert not (tmp_path / "vm").exists()
    r = run_import(pve / "101.conf", "--out", tmp_path / "vm", "--storage", "nas")
    assert r.returncode != 0 and "expected NAME=DIR" in r.stderr
