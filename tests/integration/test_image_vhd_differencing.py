"""Differencing VHDs (how Xen's blktap and Hyper-V keep snapshot chains):
a child that holds some sectors over a parent VHD that qemu-img wrote.
qemu-img cannot read these, so the files are built here from the VHD
specification and checked with libvhdi (Debian's python3-libvhdi, an
independent reader) before ferry reads them: info, convert, compare and map
give the parent's bytes with the child's sectors on top; parents are found
through relative, absolute and bare-name locators; a replaced parent, a
missing one and a chain that loops are refused with one line; ferry import
takes a libvirt domain whose disk is such a chain."""

import json
import os
import random
import shutil
import struct
import subprocess
import uuid

import pytest

from image_helpers import (MiB, assert_one_line_failure, ferry, ferry_bin, have_qemu_img,
                           libvhdi_read, qemu_img, write_pattern_raw)

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]


SECTOR = 512
BLOCK = 2 * MiB


def checksum(data, at):
    return ~sum(b for i, b in enumerate(data) if not at <= i < at + 4) & 0xffffffff


def read_footer(path):
    with open(path, "rb") as f:
        head = f.read(512)
        if head[:8] != b"conectix":
            f.seek(-512, os.SEEK_END)
            head = f.read(512)
    return head


def make_child(parent, child, writes, locators=None, parent_uuid=None, parent_name=None):
    """A differencing VHD over `parent` holding `writes` [(offset, bytes)],
    sector-aligned and within one block each. `locators` are (code, path)
    pairs; by default a relative W2ru and an absolute W2ku path."""
    pf = read_footer(parent)
    size = struct.unpack_from(">Q", pf, 48)[0]
    blocks = (size + BLOCK - 1) // BLOCK
    if locators is None:
        locators = [("W2ru", ".\\" + os.path.basename(parent)),
                    ("W2ku", os.path.abspath(parent))]
    bat_at = 1536
    bat_bytes = (blocks * 4 + 511) // 512 * 512
    loc_at = bat_at + bat_bytes
    loc_data = []
    for code, path in locators:
        data = path.encode("utf-8") if code == "MacX" else path.encode("utf-16-le")
        loc_data.append((code, data, loc_at))
        loc_at += (len(data) + 511) // 512 * 512
    data_at = loc_at
    footer = bytearray(512)
    footer[0:8] = b"conectix"
    struct.pack_into(">IIQI4sI4sQQ", footer, 8, 2, 0x10000, 512, 0, b"win ", 0x10000, b"Wi2k",
                     size, size)
    footer[56:60] = pf[56:60]  # the parent's geometry
    struct.pack_into(">I", footer, 60, 4)
    footer[68:84] = uuid.uuid4().bytes
    struct.pack_into(">I", footer, 64, checksum(footer, 64))
    header = bytearray(1024)
    header[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", header, 8, 0xFFFFFFFFFFFFFFFF, bat_at, 0x10000, blocks, BLOCK)
    header[40:56] = parent_uuid if parent_uuid is not None else pf[68:84]
    name = (parent_name or os.path.basename(parent)).encode("utf-16-be")
    header[64:64 + len(name)] = name
    for i, (code, data, at) in enumerate(loc_data):
        struct.pack_into(">4sIIIQ", header, 576 + 24 * i, code.encode(), (len(data) + 511) // 512,
                         len(data), 0, at)
    struct.pack_into(">I", header, 36, checksum(header, 36))
    bat = [0xFFFFFFFF] * blocks
    bitmaps, payloads = {}, {}
    for offset, data in writes:
        assert offset % SECTOR == 0 and len(data) % SECTOR == 0
        block = offset // BLOCK
        assert (offset + len(data) - 1) // BLOCK == block
        if bat[block] == 0xFFFFFFFF:
            bat[block] = data_at // SECTOR
            data_at += 512 + BLOCK
            bitmaps[block] = bytearray(512)
            payloads[block] = bytearray(BLOCK)
        start = offset % BLOCK
        payloads[block][start:start + len(data)] = data
        for s in range(start // SECTOR, (start + len(data)) // SECTOR):
            bitmaps[block][s // 8] |= 0x80 >> (s % 8)
    with open(child, "wb") as f:
        f.write(footer)
        f.write(header)
        f.write(b"".join(struct.pack(">I", e) for e in bat).ljust(bat_bytes, b"\xff"))
        for _, data, at in loc_data:
            f.seek(at)
            f.write(data)
        for block, entry in enumerate(bat):
            if entry != 0xFFFFFFFF:
                f.seek(entry * SECTOR)
                f.write(bitmaps[block])
                f.write(payloads[block])
        f.seek(data_at)
        f.write(footer)
    return footer[68:84]


def overlay(raw, writes, out):
    data = bytearray(open(raw, "rb").read())
    for offset, chunk in writes:
        data[offset:offset + len(chunk)] = chunk
    out.write_bytes(data)
    return out


def writes_for(seed):
    rng = random.Random(seed)
    return [(0, rng.randbytes(4096)),                     # the first sector of the disk
            (3 * BLOCK + 7 * SECTOR, rng.randbytes(SECTOR * 3)),  # a few sectors mid-block
            (3 * BLOCK + 100 * SECTOR, rng.randbytes(SECTOR)),    # same block, a gap between
            (5 * BLOCK - SECTOR, rng.randbytes(SECTOR))]          # a block's last sector


@pytest.fixture
def chain(tmp_path):
    """parent.vhd (dynamic, written by qemu-img from a patterned raw disk),
    child.vhd over it, and the bytes the child should read as."""
    raw = write_pattern_raw(tmp_path / "base.raw", 16 * MiB)
    parent = tmp_path / "parent.vhd"
    qemu_img("convert", "-O", "vpc", "-o", "subformat=dynamic", raw, parent)
    parent_raw = tmp_path / "parent.raw"
    qemu_img("convert", "-f", "vpc", "-O", "raw", parent, parent_raw)
    writes = writes_for(1)
    child = tmp_path / "child.vhd"
    make_child(parent, child, writes)
    return parent, child, overlay(parent_raw, writes, tmp_path / "expected.raw")


def test_reads_the_child_over_its_parent(chain, tmp_path):
    parent, child, expected = chain
    other = libvhdi_read(child, parent)  # the hand-made file, read by another reader
    assert other is None or other == expected.read_bytes()
    info = json.loads(ferry("info", "--output=json", child).stdout)
    assert info["format"] == "vpc" and info["virtual-size"] == expected.stat().st_size
    assert info["backing-filename"] == "parent.vhd"
    assert info["full-backing-filename"] == str(parent)
    ferry("convert", "-O", "raw", child, tmp_path / "out.raw")
    assert (tmp_path / "out.raw").read_bytes() == expected.read_bytes()
    assert ferry("compare", child, expected).returncode == 0
    extents = json.loads(ferry("map", "--output=json", child).stdout)
    own = [e for e in extents if e["depth"] == 0 and e["data"]]
    assert [(e["start"], e["length"]) for e in own] == [
        (0, 4096), (3 * BLOCK + 7 * SECTOR, 3 * SECTOR), (3 * BLOCK + 100 * SECTOR, SECTOR),
        (5 * BLOCK - SECTOR, SECTOR)]
    assert any(e["depth"] == 1 and e["data"] for e in extents)
    # converting into a new format gives the flattened disk
    ferry("convert", "-O", "qcow2", child, tmp_path / "flat.qcow2")
    assert qemu_img("compare", "-F", "raw", tmp_path / "flat.qcow2", expected).returncode == 0


def test_a_chain_of_three(chain, tmp_path):
    parent, child, expected = chain
    writes = [(BLOCK + 9 * SECTOR, random.Random(2).randbytes(2 * SECTOR)), (0, bytes(SECTOR))]
    grandchild = tmp_path / "grandchild.vhd"
    make_child(child, grandchild, writes)
    want = overlay(expected, writes, tmp_path / "want.raw")
    ferry("convert", "-O", "raw", grandchild, tmp_path / "out.raw")
    assert (tmp_path / "out.raw").read_bytes() == want.read_bytes()


@pytest.mark.parametrize("how", ["relative", "absolute", "macx", "beside"])
def test_parent_found_through_each_kind_of_locator(chain, tmp_path, how):
    parent, _, expected = chain
    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    if how == "absolute":
        locators, where = [("W2ku", str(parent))], tmp_path
    elif how == "relative":
        shutil.copy(parent, elsewhere / "parent.vhd")
        locators, where = [("W2ru", ".\\parent.vhd")], elsewhere
    elif how == "macx":
        shutil.copy(parent, elsewhere / "parent.vhd")
        locators, where = [("MacX", "file://./parent.vhd")], elsewhere
    else:  # a Windows drive path that means nothing here: the parent sits beside
        shutil.copy(parent, elsewhere / "parent.vhd")
        locators, where = [("W2ku", "C:\\VMs\\disks\\parent.vhd")], elsewhere
    child = where / f"child-{how}.vhd"
    make_child(where / "parent.vhd" if how != "absolute" else parent, child, writes_for(1),
               locators=locators)
    ferry("convert", "-O", "raw", child, tmp_path / "out.raw")
    assert (tmp_path / "out.raw").read_bytes() == expected.read_bytes()


def test_replaced_missing_and_looping_parents_are_refused(chain, tmp_path):
    parent, _, _ = chain
    stranger = tmp_path / "stranger.vhd"
    make_child(parent, stranger, writes_for(3), parent_uuid=uuid.uuid4().bytes)
    assert_one_line_failure(ferry("convert", "-O", "raw", stranger, tmp_path / "a.raw", check=False),
                     "the differencing disk was made from", "replaced")
    assert not (tmp_path / "a.raw").exists()
    orphan = tmp_path / "orphan.vhd"
    make_child(parent, orphan, writes_for(3), locators=[("W2ru", ".\\gone.vhd")],
               parent_name="gone.vhd")
    assert_one_line_failure(ferry("info", orphan, check=False), "parent 'gone.vhd'", "not found")
    # A child that names itself as its parent (same UUID, same file).
    loop = tmp_path / "loop.vhd"
    own = make_child(parent, loop, writes_for(3), locators=[("W2ru", ".\\loop.vhd")])
    data = bytearray(loop.read_bytes())
    data[512 + 40:512 + 56] = own
    struct.pack_into(">I", data, 512 + 36, checksum(data[512:1536], 36))
    loop.write_bytes(data)
    assert_one_line_failure(ferry("info", loop, check=False), "loops")


def test_import_takes_a_differencing_chain(chain, tmp_path):
    parent, child, expected = chain
    xml = tmp_path / "xen.xml"
    xml.write_text(f"""<domain type='xen'><name>xs</name><memory unit='MiB'>128</memory>
<vcpu>1</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='tap' type='vhd'/><source file='{child}'/>
<target dev='xvda' bus='xen'/></disk></devices></domain>""")
    r = subprocess.run([str(ferry_bin()), "import", str(xml), "--out", str(tmp_path / "vm"),
                        "--no-fixup"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "vm" / "disk0.raw").read_bytes() == expected.read_bytes()
