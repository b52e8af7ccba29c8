"""ferry run --vm: a VM that ferry import brought in from libvirt boots with
its memory, vCPUs, disks and MAC address, and the guest finds on its disk
what it wrote before the conversion. Images in another format given as raw
disks are refused instead of being overwritten."""
import os
import re
import subprocess

import pytest

from conftest import FERRY, GUEST, Guest, ferry
from test_bad_input import assert_one_line_error
from image_helpers import have_qemu_img, qemu_img

MAC = "52:54:00:ab:cd:ef"

pytestmark = pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing")

LIBVIRT = """<domain type='kvm'><name>moved</name><memory unit='MiB'>200</memory>
<vcpu>2</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
<target dev='sda' bus='scsi'/></disk>
<interface type='bridge'><mac address='{mac}'/><source bridge='br0'/>
<model type='e1000'/></interface>
</devices></domain>"""


def boot(*args, timeout=60):
    g = Guest([str(FERRY), "run", *map(str, args)])
    rc = g.wait(timeout)
    return rc, g


def import_as(d, disk, out, *extra):
    xml = d / (out + ".xml")
    xml.write_text(LIBVIRT.format(disk=disk, mac=MAC))
    r = ferry("import", xml, "--out", d / out, "--no-fixup", *extra, timeout=120)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A disk held as qcow2 by another platform, imported as raw (the
    default) and as qcow2."""
    d = tmp_path_factory.mktemp("imported")
    raw = d / "data.raw"
    with open(raw, "wb") as f:
        f.truncate(32 << 20)
        f.seek(5 << 20)
        f.write(os.urandom(3 << 20))
    qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, d / "source.qcow2")
    r = import_as(d, d / "source.qcow2", "vm")
    assert "boot it with: ferry run --vm" in r.stdout and "--net tap=TAP0" in r.stdout
    r = import_as(d, d / "source.qcow2", "vm-qcow2", "-O", "qcow2")
    assert "ferry run takes raw disks" in r.stdout
    return d


def test_import_writes_raw_disks_by_default(imported):
    assert sorted(os.listdir(imported / "vm")) == ["disk0.raw", "import-report.txt", "vm.json"]
    assert (imported / "vm" / "disk0.raw").read_bytes() == (imported / "data.raw").read_bytes()


@pytest.mark.kvm
def test_imported_vm_verifies_its_disk_and_gets_its_memory_and_cpus(tmp_path):
    """diskcheck writes a disk under ferry; the disk goes to qcow2 as another
    platform would hold it; imported back, the guest verifies every block."""
    written = tmp_path / "written.raw"
    with open(written, "wb") as f:
        f.truncate(32 << 20)
    rc, g = boot("--kernel", GUEST, "--memory", "256M", "--disk", written,
                 "--cmdline", "diskcheck --size 8M --duration 0.5")
    assert rc == 0 and re.search(r"^diskcheck: PASS", g.text(), re.M), g.text()[-800:]
    qemu_img("convert", "-f", "raw", "-O", "qcow2", written, tmp_path / "held.qcow2")
    import_as(tmp_path, tmp_path / "held.qcow2", "vm")
    rc, g = boot("--vm", tmp_path / "vm", "--kernel", GUEST, "--net", "tap=fimp0",
                 "--cmdline", "diskcheck --verify-only")
    out = g.text()
    assert rc == 0, out[-800:]
    assert re.search(r"^diskcheck: PASS mode=verify-only blocks=\d+ verified=[1-9]", out, re.M), \
        out[-800:]
    assert re.search(r"^ferry-guest: up cpus=2 mem_mib=(19\d|200) ", out, re.M), out[:800]


@pytest.mark.kvm
def test_imported_nic_keeps_its_mac(imported):
    rc, g = boot("--vm", imported / "vm", "--kernel", GUEST, "--net", "tap=fimp1",
                 "--cmdline", "netecho --ip 10.77.0.2 --duration 0.3 --heartbeat-ms 0")
    m = re.search(r"^netecho: listening ip=10\.77\.0\.2/24 mac=([0-9a-f:]{17})", g.text(), re.M)
    assert m and m.group(1) == MAC, g.text()[-800:]
    assert rc == 0


@pytest.mark.sanitizer
def test_each_nic_needs_a_tap(imported):
    assert_one_line_error(ferry("run", "--vm", imported / "vm", "--kernel", GUEST),
                   "1 NIC(s)", MAC, "--net tap=NAME")


@pytest.mark.sanitizer
def test_a_different_mac_is_refused(imported):
    assert_one_line_error(ferry("run", "--vm", imported / "vm", "--kernel", GUEST,
                         "--net", "tap=fimp2,mac=52:54:00:00:00:01"), "differs", MAC)


@pytest.mark.sanitizer
def test_no_kernel_says_ferry_boots_no_firmware(imported):
    assert_one_line_error(ferry("run", "--vm", imported / "vm", "--net", "tap=fimp3"), "--kernel PATH",
                   "firmware")


@pytest.mark.sanitizer
def test_qcow2_disks_are_not_run_as_raw(imported):
    assert_one_line_error(ferry("run", "--vm", imported / "vm-qcow2", "--kernel", GUEST,
                         "--net", "tap=fimp4"), "is qcow2", "ferry image convert -O raw")
    qcow2 = imported / "vm-qcow2" / "disk0.qcow2"
    before = qcow2.read_bytes()
    assert_one_line_error(ferry("run", "--kernel", GUEST, "--disk", qcow2), "is a qcow2 image",
                   "format=raw")
    assert qcow2.read_bytes() == before


@pytest.mark.sanitizer
def test_missing_or_broken_description(tmp_path):
    assert_one_line_error(ferry("run", "--vm", tmp_path / "nothing", "--kernel", GUEST), "vm.json")
    (tmp_path / "vm.json").write_text('{"name": "x", "disks": [{"format": "raw"}]}')
    assert_one_line_error(ferry("run", "--vm", tmp_path, "--kernel", GUEST), "disks[0] has no 'file'")
    (tmp_path / "vm.json").write_text("{not json")
    assert_one_line_error(ferry("run", "--vm", tmp_path / "vm.json", "--kernel", GUEST),
                   "not a VM description")
