"""ferry import: VMware VMX with its VMDKs, OVA packages (manifest digests
verified), libvirt domain XML. Disks come out byte-identical (checked with
qemu-img compare), vm.json keeps memory, vCPUs and MAC addresses, and the
report names what was left behind."""

import hashlib
import json
import os
import subprocess

import pytest

from image_helpers import MiB, ferry_bin, have_qemu_img, qemu_img, write_pattern_raw, write_tar

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]


def ferry_import(*args, check=True):
    r = subprocess.run([str(ferry_bin()), "import", *map(str, args)], capture_output=True,
                       text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"ferry import exited {r.returncode}: {r.stderr}")
    return r


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    d = tmp_path_factory.mktemp("import-src")
    a = write_pattern_raw(d / "a.raw", size=16 * MiB, seed=1)
    b = write_pattern_raw(d / "b.raw", size=8 * MiB, seed=2)
    return a, b


VMX = """\
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "web |22one|22"
guestOS = "debian11-64"
memsize = "2048"
numvcpus = "2"
firmware = "efi"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "web.vmdk"
scsi0:1.present = "TRUE"
scsi0:1.fileName = "data.vmdk"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.deviceType = "cdrom-image"
sata0:1.fileName = "/iso/debian.iso"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0C:29:AB:CD:01"
ethernet1.present = "TRUE"
ethernet1.virtualDev = "e1000"
ethernet1.addressType = "static"
ethernet1.address = "00:50:56:00:00:02"
sound.present = "TRUE"
usb.present = "TRUE"
floppy0.present = "FALSE"
"""


def test_vmx_import(tmp_path, disks):
    a, b = disks
    src = tmp_path / "src"
    src.mkdir()
    qemu_img("convert", "-O", "vmdk", a, src / "web.vmdk")
    qemu_img("convert", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", b, src / "data.vmdk")
    (src / "web.vmx").write_text(VMX)
    out = tmp_path / "vm"
    r = ferry_import(src / "web.vmx", "--out", out, "-O", "qcow2")
    vm = json.loads((out / "vm.json").read_text())
    assert vm["name"] == 'web "one"'
    assert vm["memory"] == 2048 * MiB and vm["vcpus"] == 2 and vm["firmware"] == "efi"
    assert [n["mac"] for n in vm["nics"]] == ["00:0c:29:ab:cd:01", "00:50:56:00:00:02"]
    assert [n["source_model"] for n in vm["nics"]] == ["vmxnet3", "e1000"]
    assert [d["source_target"] for d in vm["disks"]] == ["scsi0:0", "scsi0:1"]
    assert qemu_img("compare", "-F", "raw", out / "disk0.qcow2", a).returncode == 0
    assert qemu_img("compare", "-F", "raw", out / "disk1.qcow2", b).returncode == 0
    assert qemu_img("check", out / "disk0.qcow2").returncode == 0
    left = "\n".join(vm["not_carried_over"])
    assert "CD/DVD sata0:1" in left and "device sound" in left and "device usb" in left
    assert "floppy" not in left
    assert "not carried over" in r.stdout and "00:0c:29:ab:cd:01" in r.stdout
    assert (out / "import-report.txt").read_text() == r.stdout
    assert sorted(os.listdir(out)) == ["disk0.qcow2", "disk1.qcow2", "import-report.txt",
                                       "vm.json"]


def test_vmx_missing_disk_leaves_nothing(tmp_path, disks):
    src = tmp_path / "src"
    src.mkdir()
    qemu_img("convert", "-O", "vmdk", disks[0], src / "web.vmdk")  # data.vmdk missing
    (src / "web.vmx").write_text(VMX)
    out = tmp_path / "vm"
    r = ferry_import(src / "web.vmx", "--out", out, check=False)
    assert r.returncode == 1 and "data.vmdk" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["src"]


def ovf_text(disk_name, capacity, mac="00:50:56:12:34:56"):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References><File ovf:id="file1" ovf:href="{disk_name}"/></References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="{capacity}"
          ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="appliance">
    <Name>appliance</Name>
    <OperatingSystemSection ovf:id="96"><Description>Debian 12</Description></OperatingSystemSection>
    <VirtualHardwareSection>
      <Item><rasd:ElementName>2 CPUs</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>1 GB</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>
      <Item><rasd:ElementName>SCSI</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:Address>{mac}</rasd:Address><rasd:Connection>VM Network</rasd:Connection>
        <rasd:ElementName>Network adapter 1</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      <Item ovf:required="false"><rasd:ElementName>CD/DVD drive 1</rasd:ElementName>
        <rasd:InstanceID>6</rasd:InstanceID><rasd:ResourceType>15</rasd:ResourceType></Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def make_ova(tmp_path, raw, algo="sha256", corrupt=None):
    disk = tmp_path / "appliance-disk1.vmdk"
    qemu_img("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, disk)
    ovf = ovf_text(disk.name, raw.stat().st_size).encode()
    files = {"appliance.ovf": ovf, disk.name: disk.read_bytes()}
    tag = algo.upper()
    mf = "".join(f"{tag}({n})= {hashlib.new(algo, d).hexdigest()}\n" for n, d in files.items())
    if corrupt:
        mf = mf.replace(hashlib.new(algo, files[corrupt]).hexdigest(), "0" * len(
            hashlib.new(algo, b"").hexdigest()))
    ova = write_tar(tmp_path / "appliance.ova", [("appliance.ovf", ovf),
                                                  ("appliance.mf", mf.encode()),
                                                  (disk.name, files[disk.name])])
    disk.unlink()
    return ova


@pytest.mark.parametrize("algo", ["sha1", "sha256"])
def test_ova_import(tmp_path, disks, algo):
    ova = make_ova(tmp_path, disks[0], algo)
    out = tmp_path / "vm"
    r = ferry_import(ova, "--out", out, "-O", "qcow2")
    vm = json.loads((out / "vm.json").read_text())
    assert vm["name"] == "appliance" and vm["vcpus"] == 2 and vm["memory"] == 1024 * MiB
    assert vm["firmware"] == "efi" and vm["guest_os"] == "Debian 12"
    assert vm["nics"][0]["mac"] == "00:50:56:12:34:56"
    assert vm["imported_from"]["kind"] == "ova"
    assert qemu_img("compare", "-F", "raw", out / "disk0.qcow2", disks[0]).returncode == 0
    assert "CD drive 'CD/DVD drive 1'" in r.stdout
    assert sorted(os.listdir(out)) == ["disk0.qcow2", "import-report.txt", "vm.json"]


@pytest.mark.parametrize("corrupt", ["appliance-disk1.vmdk", "appliance.ovf"])
def test_ova_wrong_digest_refused(tmp_path, disks, corrupt):
    ova = make_ova(tmp_path, disks[1], "sha256", corrupt=corrupt)
    out = tmp_path / "vm"
    r = ferry_import(ova, "--out", out, check=False)
    assert r.returncode == 1
    assert f"digest of {corrupt} does not match" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["appliance.ova"]


def test_ova_truncated_refused(tmp_path, disks):
    ova = make_ova(tmp_path, disks[1])
    data = ova.read_bytes()
    ova.write_bytes(data[:len(data) // 2])
    r = ferry_import(ova, "--out", tmp_path / "vm", check=False)
    assert r.returncode == 1 and "tar" in r.stderr
    assert not (tmp_path / "vm").exists()


def test_ova_path_escape_refused(tmp_path):
    ova = write_tar(tmp_path / "evil.ova", [("../evil.ovf", b"evil")])
    r = ferry_import(ova, "--out", tmp_path / "vm", check=False)
    assert r.returncode == 1 and "not a plain file name" in r.stderr


def test_ovf_with_dtd_refused(tmp_path):
    ovf = tmp_path / "x.ovf"
    ovf.write_text('<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaa">]><Envelope>&a;</Envelope>')
    r = ferry_import(ovf, "--out", tmp_path / "vm", check=False)
    assert r.returncode == 1 and "DTD" in r.stderr


LIBVIRT = """<domain type='xen'>
  <name>legacy-xen</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>4</vcpu>
  <os><type>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{qcow2}'/>
      <target dev='xvda' bus='xen'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='b.raw'/>
      <target dev='xvdb' bus='xen'/>
    </disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
    <interface type='bridge'>
      <mac address='00:16:3E:5D:AA:01'/>
      <source bridge='xenbr0'/>
      <model type='netfront'/>
    </interface>
    <interface type='network'><source network='default'/></interface>
    <graphics type='vnc' port='-1'/>
    <serial type='pty'/>
  </devices>
</domain>
"""


def test_libvirt_import(tmp_path, disks):
    a, b = disks
    src = tmp_path / "src"
    src.mkdir()
    # A backing chain: the base plus an overlay with changes of its own.
    qemu_img("convert", "-O", "qcow2", a, src / "base.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", src / "top.qcow2")
    subprocess.run(["cp", "--sparse=always", b, src / "b.raw"], check=True)
    xml = src / "legacy.xml"
    xml.write_text(LIBVIRT.format(qcow2=src / "top.qcow2"))
    out = tmp_path / "vm"
    r = ferry_import(xml, "--out", out, "-O", "raw")
    vm = json.loads((out / "vm.json").read_text())
    assert vm["name"] == "legacy-xen" and vm["memory"] == 1 << 30 and vm["vcpus"] == 4
    assert vm["nics"][0]["mac"] == "00:16:3e:5d:aa:01" and vm["nics"][0]["network"] == "xenbr0"
    assert vm["nics"][1]["mac"] is None
    assert [d["source_target"] for d in vm["disks"]] == ["xvda", "xvdb"]
    assert qemu_img("compare", "-f", "raw", "-F", "raw", out / "disk0.raw", a).returncode == 0
    assert qemu_img("compare", "-f", "raw", "-F", "raw", out / "disk1.raw", b).returncode == 0
    assert "device <graphics type='vnc'>" in r.stdout and "cdrom hdc" in r.stdout
    assert "a new one is needed" in r.stdout


def test_existing_output_refused(tmp_path, disks):
    out = tmp_path / "vm"
    out.mkdir()
    (out / "keep").write_text("mine")
    r = ferry_import(tmp_path / "nothing.vmx", "--out", out, check=False)
    assert r.returncode == 1 and "not an empty directory" in r.stderr
    assert (out / "keep").read_text() == "mine"


def make_package(tmp_path, disk_name, disk_bytes):
    ovf = ovf_text(disk_name, 1 << 20).encode()
    return write_tar(tmp_path / "hostile.ova", [("appliance.ovf", ovf), (disk_name, disk_bytes)])


def test_ova_disk_naming_host_files_refused(tmp_path):
    """A package's disk may not make ferry read other files of the host: a
    VMDK descriptor with a flat extent on /etc/hostname, a qcow2 with a
    backing file."""
    descriptor = (b'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                  b'createType="monolithicFlat"\nRW 1 FLAT "/etc/hostname" 0\n')
    ova = make_package(tmp_path, "disk1.vmdk", descriptor)
    r = ferry_import(ova, "--out", tmp_path / "vm", check=False)
    assert r.returncode == 1 and "self-contained" in r.stderr, r.stderr
    qemu_img("create", "-f", "qcow2", "-u", "-b", "/etc/hostname", "-F", "raw",
             tmp_path / "backed.qcow2", "1M")
    ova = make_package(tmp_path, "disk1.vmdk", (tmp_path / "backed.qcow2").read_bytes())
    r = ferry_import(ova, "--out", tmp_path / "vm", check=False)
    assert r.returncode == 1 and "backing file" in r.stderr, r.stderr
    assert not (tmp_path / "vm").exists()


def test_dry_run_reads_and_checks_but_writes_nothing(tmp_path, disks):
    """--dry-run: the machine, every disk opened (format, size) and the
    package verified; nothing converted, the scratch directory removed, and
    exit 1 when a disk cannot be read."""
    ova = make_ova(tmp_path, disks[0])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    r = subprocess.run([str(ferry_bin()), "import", str(ova), "--dry-run"], capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "would import 'appliance' (ova): 2 vCPU, 1 GiB, 1 disk(s), 1 NIC(s)" in r.stdout
    assert "appliance-disk1.vmdk in " in r.stdout and ", vmdk, " in r.stdout
    assert "00:50:56:12:34:56" in r.stdout
    assert os.listdir(scratch) == []
    (tmp_path / "bad").mkdir()
    bad = make_ova(tmp_path / "bad", disks[0], corrupt="appliance-disk1.vmdk")
    r = subprocess.run([str(ferry_bin()), "import", str(bad), "--dry-run"], capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 1 and "does not match" in r.stderr
    assert os.listdir(scratch) == []


@pytest.mark.parametrize("fmt,name", [("vhdx", "hyperv.vhdx"), ("raw", "cloud.img")])
def test_a_disk_image_alone_imports(tmp_path, disks, fmt, name):
    """A disk without a VM description (a Hyper-V VHDX, a cloud image): one
    disk, converted and fixed up, and vm.json says what is not known."""
    src = tmp_path / name
    qemu_img("convert", "-O", fmt, disks[0], src)
    out = tmp_path / "vm"
    r = ferry_import(src, "--out", out)
    vm = json.loads((out / "vm.json").read_text())
    assert vm["imported_from"]["kind"] == "disk"
    assert vm["name"] == name.split(".")[0] and vm["nics"] == [] and vm["memory"] == 0
    assert any("without a VM description" in n for n in vm["notes"])
    assert qemu_img("compare", "-F", "raw", out / "disk0.raw", disks[0]).returncode == 0
    assert "imported" in r.stdout
