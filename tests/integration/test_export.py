"""ferry export: a ferry VM (what ferry import writes) out to VMware (VMX +
monolithicSparse VMDKs, or an OVA with an OVF 1.0 descriptor, a SHA256
manifest and streamOptimized VMDKs) and libvirt (domain XML + qcow2). The
round trips go back through ferry import; qemu-img checks and compares every
disk, debugfs reads the fixed-up fstab (/dev/vda1 -> /dev/sda1 for VMware's
SCSI, and back)."""

import hashlib
import json
import random
import shutil
import subprocess
import tarfile

import pytest

from image_helpers import (MiB, build_disk, debugfs_cat, ferry_bin, have_qemu_img, mkfs_ext4,
                           qemu_img, write_pattern_raw)

pytestmark = [pytest.mark.skipif(not have_qemu_img() or not shutil.which("mke2fs"),
                                 reason="qemu-img or e2fsprogs missing"),
              pytest.mark.sanitizer]

FSTAB = b"""# /etc/fstab
/dev/vda1  /      ext4  errors=remount-ro  0 1
UUID=0123-abcd /boot/efi vfat defaults 0 2
/dev/mapper/vg-data /data ext4 defaults 0 2
/dev/vdb   none   swap  sw  0 0
"""
GRUB = b"""menuentry 'Debian' {
    linux /boot/vmlinuz-6.1.0-test root=/dev/vda1 ro quiet
}
"""
MACS = ["52:54:00:12:34:56", "00:50:56:01:02:03"]


def run(*args, check=True):
    r = subprocess.run([str(ferry_bin()), *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"ferry {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r


def guest_disk(d):
    """An MBR disk with one ext4 partition (fstab naming /dev/vda1) and random
    data before the partition and after it."""
    root = mkfs_ext4(d / "root.img", 16 * MiB,
                     {"etc/fstab": FSTAB, "boot/grub/grub.cfg": GRUB,
                      "etc/hostname": b"guest\n", "boot/vmlinuz-6.1.0-test": b"\x7fELF kernel",
                      "lib/modules/6.1.0-test/kernel/drivers/message/fusion/mptspi.ko": b"m",
                      "lib/modules/6.1.0-test/modules.builtin": b"kernel/fs/ext4/ext4.ko\n"},
                     "root")
    disk = d / "guest.raw"
    spans = build_disk(disk, [root.read_bytes()], "mbr")
    rng = random.Random(7)
    with open(disk, "r+b") as f:
        f.seek(64 * 1024)
        f.write(rng.randbytes(128 * 1024))
        f.seek(spans[0][0] + spans[0][1] + 4096)
        f.write(rng.randbytes(256 * 1024))
    return disk, spans[0]


@pytest.fixture(scope="module")
def ferry_vm(tmp_path_factory):
    """A ferry VM directory made by ferry import of a libvirt domain."""
    d = tmp_path_factory.mktemp("export-src")
    disk, root = guest_disk(d)
    data = write_pattern_raw(d / "data.raw", size=8 * MiB, seed=3)
    xml = d / "guest.xml"
    xml.write_text(f"""<domain type='kvm'><name>web-01</name><memory unit='MiB'>512</memory>
<vcpu>2</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>
<target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{data}'/>
<target dev='vdb' bus='virtio'/></disk>
<interface type='network'><mac address='{MACS[0]}'/><source network='default'/></interface>
<interface type='network'><mac address='{MACS[1]}'/><source network='default'/></interface>
</devices></domain>""")
    vm = d / "vm"
    run("import", xml, "--out", vm)
    # The names are virtio already: import left the disk as it was.
    assert (vm / "disk0.raw").read_bytes() == disk.read_bytes()
    return vm, disk, data, root


def raw_copy(image, out, fmt):
    qemu_img("convert", "-f", fmt, "-O", "raw", image, out)
    return out


def assert_scsi_disk(raw, original, root):
    """fstab and grub name /dev/sdX; every byte outside the root filesystem
    is the original's; the filesystem is clean."""
    off, size = root
    fstab = debugfs_cat(raw, off, "/etc/fstab")
    assert fstab == FSTAB.replace(b"/dev/vda1", b"/dev/sda1").replace(b"/dev/vdb", b"/dev/sdb")
    assert b"root=/dev/sda1 ro quiet" in debugfs_cat(raw, off, "/boot/grub/grub.cfg")
    assert debugfs_cat(raw, off, "/etc/hostname") == b"guest\n"
    a, b = raw.read_bytes(), original.read_bytes()
    assert len(a) == len(b)
    assert a[:off] == b[:off] and a[off + size:] == b[off + size:]
    part = raw.parent / (raw.name + ".part")
    part.write_bytes(a[off:off + size])
    fsck = subprocess.run(["e2fsck", "-fn", str(part)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout


def same_but_superblock_counters(a, b, root):
    """Byte equality but for what libext2fs updates in the primary
    superblock whenever it writes a filesystem: the last write time
    (s_wtime), the lifetime kilobytes written and the checksum."""
    a, b = bytearray(a.read_bytes()), bytearray(b.read_bytes())
    sb = root[0] + 1024
    for off, size in [(48, 4), (376, 8), (1020, 4)]:
        a[sb + off:sb + off + size] = b[sb + off:sb + off + size] = bytes(size)
    return a == b


def assert_imported_back(out, disk, data, root):
    vm = json.loads((out / "vm.json").read_text())
    assert vm["memory"] == 512 * MiB and vm["vcpus"] == 2
    assert [n["mac"] for n in vm["nics"]] == MACS
    back = out / "disk0.raw"
    assert debugfs_cat(back, root[0], "/etc/fstab") == FSTAB
    assert qemu_img("compare", "-f", "raw", "-F", "raw", out / "disk1.raw", data).returncode == 0
    return back


def test_ova_round_trip(tmp_path, ferry_vm):
    vm, disk, data, root = ferry_vm
    ova = tmp_path / "web.ova"
    r = run("export", vm, "--to", "ova", "--out", ova)
    assert "web-01.ovf" in r.stdout
    # The kernel is checked for VMware's SCSI driver, not virtio's.
    assert "kernel 6.1.0-test (disk 0 partition 1): mptspi module" in r.stdout
    assert "/etc/fstab: 2 device name(s) rewritten" in r.stdout
    assert not list(tmp_path.glob(".*"))  # no staging left beside it
    with tarfile.open(ova) as t:
        members = t.getmembers()
        names = [m.name for m in members]
        assert names == ["web-01.ovf", "web-01.mf", "web-01-disk0.vmdk", "web-01-disk1.vmdk"]
        assert all(m.isfile() for m in members)
        files = {m.name: t.extractfile(m).read() for m in members}
    manifest = files["web-01.mf"].decode().splitlines()
    assert len(manifest) == 3
    for line in manifest:
        name, digest = line.split("= ")
        assert name.startswith("SHA256(") and name.endswith(")")
        assert hashlib.sha256(files[name[7:-1]]).hexdigest() == digest
    ovf = files["web-01.ovf"].decode()
    assert "<rasd:Address>52:54:00:12:34:56</rasd:Address>" in ovf
    assert "<rasd:ResourceType>6</rasd:ResourceType>" in ovf
    assert "ovf:/disk/vmdisk2" in ovf and "byte * 2^20" in ovf
    raws = []
    for i, source in enumerate([disk, data]):
        vmdk = tmp_path / f"d{i}.vmdk"
        vmdk.write_bytes(files[f"web-01-disk{i}.vmdk"])
        qemu_img("check", "-f", "vmdk", vmdk)
        assert "streamOptimized" in qemu_img("info", vmdk).stdout
        raws.append(raw_copy(vmdk, tmp_path / f"d{i}.raw", "vmdk"))
    assert_scsi_disk(raws[0], disk, root)
    assert raws[1].read_bytes() == data.read_bytes()
    # And back into ferry: the names are virtio again, the bytes the original's.
    back = tmp_path / "back"
    run("import", ova, "--out", back)
    assert same_but_superblock_counters(assert_imported_back(back, disk, data, root), disk, root)


def test_vmx(tmp_path, ferry_vm):
    vm, disk, data, root = ferry_vm
    out = tmp_path / "vmware"
    r = run("export", vm / "vm.json", "--to", "vmx", "--out", out)
    assert "checkMACAddress" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["web-01-disk0.vmdk", "web-01-disk1.vmdk",
                                                     "web-01.vmx"]
    vmx = (out / "web-01.vmx").read_text()
    for line in ['.encoding = "UTF-8"', 'config.version = "8"', 'virtualHW.version = "14"',
                 'displayName = "web-01"', 'memsize = "512"', 'numvcpus = "2"',
                 'guestOS = "other5xlinux-64"', 'firmware = "bios"',
                 'scsi0.virtualDev = "lsilogic"', 'scsi0:1.fileName = "web-01-disk1.vmdk"',
                 'ethernet0.virtualDev = "vmxnet3"', 'ethernet0.addressType = "static"',
                 f'ethernet0.address = "{MACS[0]}"', 'ethernet0.checkMACAddress = "FALSE"',
                 f'ethernet1.address = "{MACS[1]}"']:
        assert line in vmx.splitlines(), line
    assert "ethernet1.checkMACAddress" not in vmx  # inside VMware's static range
    for i in range(2):
        vmdk = out / f"web-01-disk{i}.vmdk"
        qemu_img("check", "-f", "vmdk", vmdk)
        assert "monolithicSparse" in qemu_img("info", vmdk).stdout
    assert qemu_img("compare", "-f", "vmdk", "-F", "raw", out / "web-01-disk1.vmdk",
                    data).returncode == 0
    assert_scsi_disk(raw_copy(out / "web-01-disk0.vmdk", tmp_path / "d0.raw", "vmdk"), disk, root)
    back = tmp_path / "back"
    run("import", out / "web-01.vmx", "--out", back)
    assert same_but_superblock_counters(assert_imported_back(back, disk, data, root), disk, root)


def test_vmx_no_fixup_keeps_disks(tmp_path, ferry_vm):
    vm, disk, data, _ = ferry_vm
    out = tmp_path / "vmware"
    r = run("export", vm, "--to", "vmx", "--out", out, "--no-fixup")
    assert "guest fix-ups skipped" in r.stdout
    assert qemu_img("compare", "-f", "vmdk", "-F", "raw", out / "web-01-disk0.vmdk",
                    disk).returncode == 0


def test_libvirt_round_trip(tmp_path, ferry_vm):
    vm, disk, data, root = ferry_vm
    out = tmp_path / "kvm"
    r = run("export", vm, "--to", "libvirt", "--out", out)
    assert "virtio_blk missing: this kernel will not find its disk under KVM" in r.stdout
    xml = (out / "web-01.xml").read_text()
    assert "<domain type='kvm'>" in xml and "<memory unit='KiB'>524288</memory>" in xml
    assert "<driver name='qemu' type='qcow2'/>" in xml and "<target dev='vdb' bus='virtio'/>" in xml
    assert f"<source file='{out.resolve()}/web-01-disk0.qcow2'/>" in xml
    assert "<source network='default'/>" in xml and "<model type='virtio'/>" in xml
    for i, source in enumerate([disk, data]):
        qcow2 = out / f"web-01-disk{i}.qcow2"
        qemu_img("check", "-f", "qcow2", qcow2)
        # virtio names stay: the disks are the source's, byte for byte.
        assert qemu_img("compare", "-f", "qcow2", "-F", "raw", qcow2, source).returncode == 0
    back = tmp_path / "back"
    run("import", out / "web-01.xml", "--out", back)
    # Nothing was renamed on the way, so nothing was written.
    assert assert_imported_back(back, disk, data, root).read_bytes() == disk.read_bytes()


def test_xl_round_trip(tmp_path, ferry_vm):
    """Out to Xen: an xl configuration with raw disks as xvda/xvdb, vifs
    keeping their MACs, the guest's fstab renamed to /dev/xvdX; ferry import
    of that configuration brings back the machine and the original names."""
    vm, disk, data, root = ferry_vm
    out = tmp_path / "xen"
    r = run("export", vm, "--to", "xl", "--out", out)
    cfg = (out / "web-01.cfg").read_text()
    assert "type = 'hvm'" in cfg and "memory = 512" in cfg and "vcpus = 2" in cfg
    assert f"'format=raw, vdev=xvdb, access=rw, target={out.resolve()}/web-01-disk1.raw'" in cfg
    assert f"'mac={MACS[0]}, bridge=xenbr0, type=vif'" in cfg
    assert "xen-blkfront missing" in r.stdout  # the test kernel has no Xen block driver
    off = root[0]
    fstab = debugfs_cat(out / "web-01-disk0.raw", off, "/etc/fstab")
    assert fstab == FSTAB.replace(b"/dev/vda1", b"/dev/xvda1").replace(b"/dev/vdb", b"/dev/xvdb")
    assert (out / "web-01-disk1.raw").read_bytes() == data.read_bytes()
    back = tmp_path / "back"
    run("import", out / "web-01.cfg", "--out", back)
    returned = assert_imported_back(back, disk, data, root)
    # xvda1 is a byte longer than vda1: the files were rewritten at another
    # length and back, so inode times differ; names, fsck and every byte
    # outside the root filesystem are the original's.
    assert b"root=/dev/vda1 ro quiet" in debugfs_cat(returned, off, "/boot/grub/grub.cfg")
    a, b = returned.read_bytes(), disk.read_bytes()
    assert a[:off] == b[:off] and a[off + root[1]:] == b[off + root[1]:]
    part = tmp_path / "root.part"
    part.write_bytes(a[off:off + root[1]])
    fsck = subprocess.run(["e2fsck", "-fn", str(part)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout


def test_proxmox_round_trip(tmp_path, ferry_vm):
    """Out to Proxmox VE: VMID.conf and images/VMID/ as a directory storage
    holds them (virtio disks, so the guest's names stay); ferry import of
    that configuration, told where storage 'local' is, brings it back."""
    vm, disk, data, root = ferry_vm
    out = tmp_path / "pve"
    r = run("export", vm, "--to", "proxmox", "--vmid", "123", "--out", out)
    conf = (out / "123.conf").read_text()
    assert "name: web-01\n" in conf and "memory: 512\n" in conf and "cores: 2\n" in conf
    assert "virtio0: local:123/vm-123-disk0.qcow2,size=" in conf
    assert f"net0: virtio={MACS[0]},bridge=vmbr0" in conf
    assert "/etc/pve/qemu-server/" in r.stdout
    for i, source in enumerate([disk, data]):
        qcow2 = out / "images" / "123" / f"vm-123-disk{i}.qcow2"
        qemu_img("check", "-f", "qcow2", qcow2)
        assert qemu_img("compare", "-f", "qcow2", "-F", "raw", qcow2, source).returncode == 0
    back = tmp_path / "back"
    run("import", out / "123.conf", "--out", back, "--storage", f"local={out}",
        "--storage-cfg", "/dev/null")
    assert assert_imported_back(back, disk, data, root).read_bytes() == disk.read_bytes()
    r = run("export", vm, "--to", "proxmox", "--vmid", "7", "--out", tmp_path / "x", check=False)
    assert r.returncode != 0 and "--vmid '7'" in r.stderr


def test_hyperv(tmp_path, ferry_vm):
    """Out to Hyper-V: dynamic VHDX disks (qemu-img checks them and reads
    the guest with /dev/sdX names, as hv_storvsc shows them) and a
    PowerShell script that creates a generation-1 VM around them with
    static MACs; the VHDX comes back into ferry as a disk alone."""
    vm, disk, data, root = ferry_vm
    out = tmp_path / "hv"
    r = run("export", vm, "--to", "hyperv", "--out", out)
    assert "hv_storvsc missing" in r.stdout  # the test kernel has no Hyper-V driver
    ps1 = (out / "web-01.ps1").read_text()
    assert "New-VM -Name 'web-01' -Generation 1 -MemoryStartupBytes 512MB -NoVHD" in ps1
    assert "Set-VMProcessor -VMName 'web-01' -Count 2" in ps1
    assert ("Add-VMHardDiskDrive -VMName 'web-01' -ControllerType IDE -Path "
            "(Join-Path $PSScriptRoot 'web-01-disk0.vhdx')") in ps1
    assert "-ControllerType SCSI -Path (Join-Path $PSScriptRoot 'web-01-disk1.vhdx')" in ps1
    assert "-StaticMacAddress '525400123456'" in ps1
    for i in range(2):
        qemu_img("check", "-f", "vhdx", out / f"web-01-disk{i}.vhdx")
    assert qemu_img("compare", "-f", "vhdx", "-F", "raw", out / "web-01-disk1.vhdx",
                    data).returncode == 0
    assert_scsi_disk(raw_copy(out / "web-01-disk0.vhdx", tmp_path / "d0.raw", "vhdx"), disk, root)
    back = tmp_path / "back"
    run("import", out / "web-01-disk0.vhdx", "--out", back)
    assert debugfs_cat(back / "disk0.raw", root[0], "/etc/fstab") == FSTAB


def test_missing_vm_json(tmp_path):
    r = run("export", tmp_path / "nothing", "--to", "ova", "--out", tmp_path / "x.ova",
            check=False)
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    assert "vm.json" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_output_refused_then_forced(tmp_path, ferry_vm):
    vm = ferry_vm[0]
    ova = tmp_path / "x.ova"
    ova.write_text("mine")
    r = run("export", vm, "--to", "ova", "--out", ova, check=False)
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    assert ova.read_text() == "mine"
    out = tmp_path / "dir"
    out.mkdir()
    (out / "keep").write_text("mine")
    r = run("export", vm, "--to", "libvirt", "--out", out, check=False)
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    assert [p.name for p in out.iterdir()] == ["keep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "x.ova"]
    run("export", vm, "--to", "ova", "--out", ova, "--force", "--no-fixup")
    assert tarfile.is_tarfile(ova)
    run("export", vm, "--to", "libvirt", "--out", out, "--force", "--no-fixup")
    assert "web-01.xml" in [p.name for p in out.iterdir()] and not (out / "keep").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "x.ova"]


def test_missing_disk_leaves_nothing(tmp_path, ferry_vm):
    vm = tmp_path / "vm"
    vm.mkdir()
    desc = json.loads((ferry_vm[0] / "vm.json").read_text())
    desc["disks"][0]["file"] = str(ferry_vm[0] / "disk0.raw")
    desc["disks"][1]["file"] = "gone.raw"
    (vm / "vm.json").write_text(json.dumps(desc))
    for to, out in [("ova", tmp_path / "x.ova"), ("vmx", tmp_path / "x"),
                    ("libvirt", tmp_path / "y")]:
        r = run("export", vm, "--to", to, "--out", out, check=False)
        assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
        assert "gone.raw" in r.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["vm"]


def test_help_and_bad_target(tmp_path):
    r = run("export", "--help")
    assert "--to vmx|ova|libvirt|xl|proxmox|hyperv" in r.stdout
    assert "export" in run("--help").stdout
    r = run("export", tmp_path, "--to", "vbox", "--out", tmp_path / "o", check=False)
    assert r.returncode != 0 and "vbox" in r.stderr


def test_qcow2_vm_to_ova(tmp_path, ferry_vm):
    """A ferry VM whose disks are qcow2 (import -O qcow2) exports the same."""
    _, disk, data, root = ferry_vm
    xml = tmp_path / "guest.xml"
    xml.write_text(f"""<domain type='kvm'><name>q</name><memory unit='MiB'>256</memory>
<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='{disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    run("import", xml, "--out", tmp_path / "vm", "-O", "qcow2")
    assert (tmp_path / "vm" / "disk0.qcow2").exists()
    ova = tmp_path / "q.ova"
    r = run("export", tmp_path / "vm", "--to", "ova", "--out", ova, "-p")
    assert "0 NIC(s)" in r.stdout
    with tarfile.open(ova) as t:
        assert t.getnames() == ["q.ovf", "q.mf", "q-disk0.vmdk"]
        (tmp_path / "d.vmdk").write_bytes(t.extractfile("q-disk0.vmdk").read())
    assert_scsi_disk(raw_copy(tmp_path / "d.vmdk", tmp_path / "d.raw", "vmdk"), disk, root)
