"""ESXi snapshot delta disks, as a VM copied off a datastore with snapshots
carries them: vmfsSparse ("COWD", VMFS5 and older) and seSparse (VMFS6 and
disks over 2 TiB), each a descriptor naming its parent. qemu-img cannot
write either, so the deltas are built here from the layouts qemu's vmdk
driver reads, and qemu-img reading the same chain is the yardstick: ferry
must give the same bytes. A dirty seSparse journal is refused plainly."""

import random
import re
import struct

import pytest

from image_helpers import MiB, ferry, have_qemu_img, qemu_img, write_pattern_raw

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]

SIZE = 40 * MiB
SECTORS = SIZE // 512


def writes(seed, grain):
    rng = random.Random(seed)
    return {g: rng.randbytes(grain) for g in (0, 3, 4, 1000, SIZE // grain - 1)}


def descriptor(parent, create_type, extent_type, extent_file):
    parent_cid = re.search(r"^CID=(\w+)", open(parent, "rb").read(4096).decode("latin-1"),
                           re.M).group(1)
    # Laid out as ESXi writes it (a blank line straight before the extent
    # line would make qemu 7.2 count the extent twice).
    return (f'# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=12345678\n'
            f'parentCID={parent_cid}\ncreateType="{create_type}"\n'
            f'parentFileNameHint="{parent.name}"\n# Extent description\n'
            f'RW {SECTORS} {extent_type} "{extent_file}"\n\n# The Disk Data Base\n#DDB\n\n'
            f'ddb.adapterType = "lsilogic"\n')


def make_cowd(path, data, grain_sectors=8):
    grain = grain_sectors * 512
    gt_span = 4096 * grain_sectors
    gd_entries = (SECTORS + gt_span - 1) // gt_span
    gd_at = 4
    gt_at = gd_at + (gd_entries * 4 + 511) // 512
    next_sector = gt_at + gd_entries * 32  # 4096 entries x 4 bytes = 32 sectors per table
    gd = [gt_at + i * 32 for i in range(gd_entries)]
    gts = [[0] * 4096 for _ in range(gd_entries)]
    grains = {}
    for g, payload in sorted(data.items()):
        gts[g // 4096][g % 4096] = next_sector
        grains[next_sector] = payload
        next_sector += grain_sectors
    with open(path, "wb") as f:
        f.truncate(next_sector * 512)
        f.write(b"COWD" + struct.pack("<10I", 1, 3, SECTORS, grain_sectors, gd_at, gd_entries,
                                      next_sector, 0, 0, 0))
        f.seek(gd_at * 512)
        f.write(struct.pack(f"<{gd_entries}I", *gd))
        for i, gt in enumerate(gts):
            f.seek(gd[i] * 512)
            f.write(struct.pack("<4096I", *gt))
        for at, payload in grains.items():
            f.seek(at * 512)
            f.write(payload)


def make_sesparse(path, data, zero=(), dirty=False):
    gt_span = 4096 * 8
    gd_entries = (SECTORS + gt_span - 1) // gt_span
    volatile_at, gd_at = 1, 8
    gd_sectors = (gd_entries * 8 + 511) // 512
    gts_at = gd_at + gd_sectors
    gts_sectors = gd_entries * 64
    grains_at = gts_at + gts_sectors
    gts = [[0] * 4096 for _ in range(gd_entries)]
    grains = []
    for g in zero:
        gts[g // 4096][g % 4096] = 0x2000000000000000
    for g, payload in sorted(data.items()):
        c = len(grains)
        gts[g // 4096][g % 4096] = 0x3000000000000000 | ((c & 0xFFF) << 48) | (c >> 12)
        grains.append(payload)
    const = struct.pack("<26Q", 0xCAFEBABE, 0x0000000200000001, SECTORS, 8, 64, 0, 0, 0, 0, 0,
                        volatile_at, 1, 2, 1, 3, 1, gd_at, gd_sectors, gts_at, gts_sectors,
                        0, 0, 0, 0, grains_at, len(grains) * 8).ljust(512, b"\0")
    vol = struct.pack("<4Q", 0xCAFECAFE, 0, 1, 1 if dirty else 0).ljust(512, b"\0")
    with open(path, "wb") as f:
        f.truncate((grains_at + len(grains) * 8) * 512)
        f.write(const)
        f.seek(volatile_at * 512)
        f.write(vol)
        f.seek(gd_at * 512)
        f.write(struct.pack(f"<{gd_entries}Q", *[0x1000000000000000 | i
                                                 for i in range(gd_entries)]))
        for i, gt in enumerate(gts):
            f.seek((gts_at + i * 64) * 512)
            f.write(struct.pack("<4096Q", *gt))
        for c, payload in enumerate(grains):
            f.seek((grains_at + c * 8) * 512)
            f.write(payload)


@pytest.fixture
def parent(tmp_path):
    raw = write_pattern_raw(tmp_path / "base.raw", SIZE)
    vmdk = tmp_path / "web.vmdk"
    qemu_img("convert", "-O", "vmdk", "-o", "subformat=monolithicSparse", raw, vmdk)
    return vmdk


def same_as_qemu(tmp_path, child):
    qemu_img("convert", "-f", "vmdk", "-O", "raw", child, tmp_path / "qemu.raw")
    ferry("convert", "-O", "raw", child, tmp_path / "ferry.raw")
    return (tmp_path / "qemu.raw").read_bytes() == (tmp_path / "ferry.raw").read_bytes()


def test_vmfs_sparse_delta(tmp_path, parent):
    make_cowd(tmp_path / "web-000001-delta.vmdk", writes(1, 4096))
    child = tmp_path / "web-000001.vmdk"
    child.write_text(descriptor(parent, "vmfsSparse", "VMFSSPARSE", "web-000001-delta.vmdk"))
    assert same_as_qemu(tmp_path, child)
    out = (tmp_path / "ferry.raw").read_bytes()
    assert out[:4096] == writes(1, 4096)[0]          # the delta's grain
    assert out[MiB:MiB + 4096] == (tmp_path / "base.raw").read_bytes()[MiB:MiB + 4096]  # parent's


def test_sesparse_delta_with_zero_grains(tmp_path, parent):
    make_sesparse(tmp_path / "web-000002-sesparse.vmdk", writes(2, 4096), zero=(256, 257))
    child = tmp_path / "web-000002.vmdk"
    child.write_text(descriptor(parent, "seSparse", "SESPARSE", "web-000002-sesparse.vmdk"))
    assert same_as_qemu(tmp_path, child)
    out = (tmp_path / "ferry.raw").read_bytes()
    assert out[MiB:MiB + 8192] == bytes(8192)  # zero grains 256, 257 hide the parent's data
    assert (tmp_path / "base.raw").read_bytes()[MiB:MiB + 8192] != bytes(8192)


def test_dirty_sesparse_journal_refused(tmp_path, parent):
    make_sesparse(tmp_path / "d-sesparse.vmdk", writes(3, 4096), dirty=True)
    child = tmp_path / "d.vmdk"
    child.write_text(descriptor(parent, "seSparse", "SESPARSE", "d-sesparse.vmdk"))
    r = ferry("convert", "-O", "raw", child, tmp_path / "x.raw", check=False)
    assert r.returncode != 0 and "journal needs replaying" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.raw").exists()
