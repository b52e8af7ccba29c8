"""The guest kit's own virtio drivers against ferry's devices: data written
through virtio-blk reads back in a later run, two disks at once, a read-only
disk refuses writes, discard and write-zeroes work, entropy arrives through
virtio-rng, and a snapshot with disk I/O in flight restores intact."""
import re

import pytest

from conftest import ferry
from test_snapshot import restore


def make_disk(path, mib=64):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    return path


def run_to_end(run_vm, cmdline, *disk_args, timeout=60, memory="256M"):
    extra = []
    for d in disk_args:
        extra += ["--disk", d] if d != "--rng" else ["--rng"]
    g = run_vm(cmdline, memory=memory, extra=extra)
    rc = g.wait(timeout)
    return rc, g


@pytest.mark.sanitizer
def test_diskcheck_then_verify_only_in_a_second_run(run_vm, tmp_path):
    disk = make_disk(tmp_path / "d.img")
    rc, g = run_to_end(run_vm, "diskcheck --size 16M --duration 1 --sweep-ms 200", disk)
    assert rc == 0, g.text()[-1500:] + g.stderr
    out = g.text()
    assert re.search(r"^pci: 00:01\.0 1af4:1042 virtio-blk", out, re.M), out[:800]
    assert re.search(r"^diskcheck: prepared discard=ok write_zeroes=ok", out, re.M)
    m = re.search(r"^diskcheck: PASS blocks=(\d+) .* writes=(\d+)", out, re.M)
    assert m and int(m.group(2)) > 0, out[-800:]
    assert re.search(r'^diskcheck: id="ferry-[0-9a-f]{8}" status=OK', out, re.M), out[:1200]
    rc, g = run_to_end(run_vm, "diskcheck --verify-only", disk)
    assert rc == 0, g.text()[-1500:]
    assert re.search(r"^diskcheck: PASS mode=verify-only blocks=\d+ verified=\d+", g.text(), re.M)


def test_a_damaged_block_is_caught_in_the_next_run(run_vm, tmp_path):
    disk = make_disk(tmp_path / "d.img")
    rc, g = run_to_end(run_vm, "diskcheck --size 4M --duration 0.5", disk)
    assert rc == 0, g.text()[-800:]
    with open(disk, "r+b") as f:  # a bit flips in the data area, behind the VMM's back
        f.seek(2 << 20)
        byte = f.read(1)
        f.seek(2 << 20)
        f.write(bytes([byte[0] ^ 0x10]))
    rc, g = run_to_end(run_vm, "diskcheck --verify-only", disk)
    assert rc == 1
    assert re.search(r"^diskcheck: FAIL reason=", g.text(), re.M), g.text()[-800:]


def test_two_disks_at_once(run_vm, tmp_path):
    a = make_disk(tmp_path / "a.img")
    b = make_disk(tmp_path / "b.img", 32)
    rc, g = run_to_end(run_vm, "diskcheck --disk 1 --size 8M --duration 0.5", a, b)
    assert rc == 0, g.text()[-800:]
    assert "00:02.0 1af4:1042 virtio-blk" in g.text()
    # Disk 1 is b.img: a stayed untouched (all holes), b holds the data.
    assert open(a, "rb").read(1 << 20) == bytes(1 << 20)
    rc, g = run_to_end(run_vm, "diskcheck --verify-only", b)
    assert rc == 0, g.text()[-800:]


def test_readonly_disk_refuses_writes(run_vm, tmp_path):
    disk = make_disk(tmp_path / "ro.img")
    rc, g = run_to_end(run_vm, "diskcheck --duration 0.5", f"{disk},readonly")
    assert rc == 3, g.text()[-800:]
    assert "read-only (VIRTIO_BLK_F_RO)" in g.text()
    assert open(disk, "rb").read(1 << 20) == bytes(1 << 20)


def test_entropy_arrives_through_virtio_rng(run_vm):
    rc, g = run_to_end(run_vm, "rngcheck --bytes 64K", "--rng")
    assert rc == 0, g.text()[-800:]
    m = re.search(r"^rngcheck: PASS bytes=65536 .*distinct=(\d+)", g.text(), re.M)
    assert m and int(m.group(1)) > 200, g.text()[-500:]


def test_snapshot_with_disk_io_restores_intact(run_vm, tmp_path):
    disk = make_disk(tmp_path / "d.img")
    api = tmp_path / "vm.sock"
    g = run_vm("diskcheck --size 16M --rate 8M --duration 3 --sweep-ms 200 --heartbeat-ms 10",
               api=api, extra=["--disk", disk])
    g.wait_for(r"^hb cpu=0 seq=40 ")
    snap = tmp_path / "snap"
    r = ferry("snapshot", "--api", api, "--out", snap)
    assert r.returncode == 0, r.stderr
    g.kill()  # paused since the snapshot: the image is as the snapshot saw it
    r2 = restore(snap, "--disk", disk)
    assert r2.wait(60) == 0, r2.text()[-1500:] + r2.stderr
    assert re.search(r"^diskcheck: PASS blocks=", r2.text(), re.M), r2.text()[-800:]
