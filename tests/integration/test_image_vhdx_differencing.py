"""Differencing VHDX (how Hyper-V keeps checkpoints, `.avhdx`): a child over
a parent VHDX that qemu-img wrote. qemu-img cannot read these, so the child
is built here from [MS-VHDX] (headers, region table, metadata with a parent
locator, a BAT with sector bitmap blocks) and checked with libvhdi (Debian's
python3-libvhdi, an independent reader) before ferry reads it: partially
present blocks take the sectors their bitmap marks, fully present blocks
all of theirs, zero blocks hide the parent, not-present blocks show it; the
parent is found through relative_path or by name beside the child; a
parent with another DataWriteGuid, and a missing one, are refused."""

import json
import os
import random
import shutil
import struct
import uuid

import pytest

from ferrystate import crc32c
from image_helpers import (MiB, assert_one_line_failure, ferry, have_qemu_img, libvhdi_read,
                           qemu_img, write_pattern_raw)

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]


BLOCK = 1 * MiB
SECTOR = 512
SIZE = 40 * MiB  # write_pattern_raw puts data up to 32 MiB
CHUNK_RATIO = (1 << 23) * SECTOR // BLOCK


def with_checksum(buf, at):
    buf[at:at + 4] = b"\0\0\0\0"
    struct.pack_into("<I", buf, at, crc32c(bytes(buf)))
    return buf


def guid(text):
    return uuid.UUID(text).bytes_le


def data_write_guid(path):
    """The parent's DataWriteGuid, from the valid header with the higher sequence."""
    best = None
    with open(path, "rb") as f:
        for at in (64 << 10, 128 << 10):
            f.seek(at)
            h = bytearray(f.read(4096))
            stored = struct.unpack_from("<I", h, 4)[0]
            if h[:4] != b"head":
                continue
            check = bytearray(h)
            check[4:8] = b"\0\0\0\0"
            if crc32c(bytes(check)) != stored:
                continue
            seq = struct.unpack_from("<Q", h, 8)[0]
            if best is None or seq > best[0]:
                best = (seq, bytes(h[32:48]))
    return best[1]


def locator(entries):
    """A parent locator item: type GUID, count, (key, value) offset/length table, UTF-16LE strings."""
    head = bytearray(20)
    head[0:16] = guid("B04AEFB7-D19E-4A81-B789-25B8E9445913")
    struct.pack_into("<HH", head, 16, 0, len(entries))
    table = bytearray()
    strings = bytearray()
    base = 20 + 12 * len(entries)
    for key, value in entries:
        k, v = key.encode("utf-16-le"), value.encode("utf-16-le")
        table += struct.pack("<IIHH", base + len(strings), base + len(strings) + len(k), len(k),
                             len(v))
        strings += k + v
    return bytes(head + table + strings)


def make_child(parent, child, size, writes, linkage=None, relative=None, absolute=None):
    """A differencing VHDX of `size` bytes over `parent`. `writes` are
    (offset, bytes, how): how = "partial" (sector-aligned, within a block),
    "full" (a whole block) or "zero" (a whole block of zeros that hides
    the parent)."""
    linkage = linkage or data_write_guid(parent)
    link_text = "{" + str(uuid.UUID(bytes_le=linkage)) + "}"
    relative = relative if relative is not None else ".\\" + os.path.basename(parent)
    entries = [("parent_linkage", link_text), ("relative_path", relative)]
    if absolute:
        entries.append(("absolute_win32_path", absolute))
    blocks = (size + BLOCK - 1) // BLOCK
    chunks = (blocks + CHUNK_RATIO - 1) // CHUNK_RATIO
    bat = [0] * (chunks * (CHUNK_RATIO + 1))
    payload = {}
    bitmap = {}
    next_mb = 4

    def allocate():
        nonlocal next_mb
        next_mb += 1
        return next_mb - 1

    for offset, data, how in writes:
        b = offset // BLOCK
        index = b + b // CHUNK_RATIO
        if how == "zero":
            bat[index] = 2
            continue
        if how == "full":
            assert offset % BLOCK == 0 and len(data) == BLOCK
            mb = allocate()
            bat[index] = (mb << 20) | 6
            payload[mb] = bytearray(data)
            continue
        assert (offset + len(data) - 1) // BLOCK == b and offset % SECTOR == 0
        if bat[index] & 7 != 7:
            mb = allocate()
            bat[index] = (mb << 20) | 7
            payload[mb] = bytearray(BLOCK)
        mb = bat[index] >> 20
        start = offset % BLOCK
        payload[mb][start:start + len(data)] = data
        chunk = b // CHUNK_RATIO
        if chunk not in bitmap:
            bitmap[chunk] = (allocate(), bytearray(MiB))
            bat[chunk * (CHUNK_RATIO + 1) + CHUNK_RATIO] = (bitmap[chunk][0] << 20) | 6
        bits = bitmap[chunk][1]
        first = (b % CHUNK_RATIO) * (BLOCK // SECTOR) + start // SECTOR
        for s in range(first, first + len(data) // SECTOR):
            bits[s // 8] |= 1 << (s % 8)

    with open(child, "wb") as f:
        f.truncate(next_mb * MiB)
        f.write(b"vhdxfile" + "ferry test".encode("utf-16-le"))
        for i, at in enumerate((64 << 10, 128 << 10)):
            h = bytearray(4096)
            h[0:4] = b"head"
            struct.pack_into("<Q", h, 8, i + 1)
            h[16:32] = uuid.uuid4().bytes
            h[32:48] = uuid.uuid4().bytes
            struct.pack_into("<HHIQ", h, 64, 0, 1, MiB, MiB)
            f.seek(at)
            f.write(with_checksum(h, 4))
        rt = bytearray(64 << 10)
        rt[0:4] = b"regi"
        struct.pack_into("<I", rt, 8, 2)
        struct.pack_into("<16sQII", rt, 16, guid("2DC27766-F623-4200-9D64-115E9BFD4A08"),
                         2 * MiB, MiB, 1)
        struct.pack_into("<16sQII", rt, 48, guid("8B7CA206-4790-4B9A-B8FE-575F050F886E"),
                         3 * MiB, MiB, 1)
        with_checksum(rt, 4)
        for at in (192 << 10, 256 << 10):
            f.seek(at)
            f.write(rt)
        f.seek(2 * MiB)
        f.write(b"".join(struct.pack("<Q", e) for e in bat))
        items = [("CAA16737-FA36-4D43-B3B6-33F0AA44E76B", struct.pack("<II", BLOCK, 2), 4),
                 ("2FA54224-CD1B-4876-B211-5DBED83BF4B8", struct.pack("<Q", size), 6),
                 ("BECA12AB-B2E6-4523-93EF-C309E000C746", uuid.uuid4().bytes, 6),
                 ("8141BF1D-A96F-4709-BA47-F233A8FAAB5F", struct.pack("<I", SECTOR), 6),
                 ("CDA348C7-445D-4471-9CC9-E9885251C556", struct.pack("<I", 4096), 6),
                 ("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C", locator(entries), 4)]
        table = bytearray(64 << 10)
        table[0:8] = b"metadata"
        struct.pack_into("<H", table, 10, len(items))
        body = bytearray()
        for i, (item_id, data, flags) in enumerate(items):
            struct.pack_into("<16sIII", table, 32 + 32 * i, guid(item_id), (64 << 10) + len(body),
                             len(data), flags)
            body += data + bytes(-len(data) % 8)
        f.seek(3 * MiB)
        f.write(table + body)
        for mb, data in payload.items():
            f.seek(mb * MiB)
            f.write(data)
        for mb, bits in bitmap.values():
            f.seek(mb * MiB)
            f.write(bits)


def overlay(raw, writes, out):
    data = bytearray(open(raw, "rb").read())
    for offset, chunk, how in writes:
        if how == "zero":
            data[offset:offset + BLOCK] = bytes(BLOCK)
        else:
            data[offset:offset + len(chunk)] = chunk
    out.write_bytes(data)
    return out


def writes_for(seed):
    rng = random.Random(seed)
    return [(0, rng.randbytes(4096), "partial"),                          # disk's first sectors
            (2 * BLOCK + 7 * SECTOR, rng.randbytes(3 * SECTOR), "partial"),  # mid-block
            (2 * BLOCK + 100 * SECTOR, rng.randbytes(SECTOR), "partial"),    # same block, a gap
            (5 * BLOCK, rng.randbytes(BLOCK), "full"),
            (7 * BLOCK, b"", "zero"),
            (9 * BLOCK - SECTOR, rng.randbytes(SECTOR), "partial")]          # a block's last sector


@pytest.fixture
def chain(tmp_path):
    raw = write_pattern_raw(tmp_path / "base.raw", SIZE)
    parent = tmp_path / "parent.vhdx"
    qemu_img("convert", "-O", "vhdx", raw, parent)
    parent_raw = tmp_path / "parent.raw"
    qemu_img("convert", "-f", "vhdx", "-O", "raw", parent, parent_raw)
    writes = writes_for(1)
    child = tmp_path / "child.avhdx"
    make_child(parent, child, SIZE, writes)
    return parent, child, overlay(parent_raw, writes, tmp_path / "expected.raw")


def test_reads_the_child_over_its_parent(chain, tmp_path):
    parent, child, expected = chain
    other = libvhdi_read(child, parent)  # the hand-made file, read by another reader
    assert other is None or other == expected.read_bytes()
    info = json.loads(ferry("info", "--output=json", child).stdout)
    assert info["format"] == "vhdx" and info["virtual-size"] == SIZE
    assert info["full-backing-filename"] == str(parent)
    ferry("convert", "-O", "raw", child, tmp_path / "out.raw")
    assert (tmp_path / "out.raw").read_bytes() == expected.read_bytes()
    assert ferry("compare", child, expected).returncode == 0
    extents = json.loads(ferry("map", "--output=json", child).stdout)
    own = [(e["start"], e["length"]) for e in extents if e["depth"] == 0 and e["data"]]
    assert own == [(0, 4096), (2 * BLOCK + 7 * SECTOR, 3 * SECTOR),
                   (2 * BLOCK + 100 * SECTOR, SECTOR), (5 * BLOCK, BLOCK),
                   (9 * BLOCK - SECTOR, SECTOR)]
    assert any(e["depth"] == 0 and e["zero"] and e["start"] == 7 * BLOCK for e in extents)
    assert any(e["depth"] == 1 and e["data"] for e in extents)


def test_parent_found_by_name_beside_a_moved_child(chain, tmp_path):
    parent, _, expected = chain
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(parent, moved / "parent.vhdx")
    child = moved / "child.avhdx"
    make_child(moved / "parent.vhdx", child, SIZE, writes_for(1),
               relative="..\\..\\gone\\elsewhere.vhdx",
               absolute="\\\\?\\C:\\Hyper-V\\Disks\\parent.vhdx")
    ferry("convert", "-O", "raw", child, tmp_path / "out.raw")
    assert (tmp_path / "out.raw").read_bytes() == expected.read_bytes()


def test_wrong_and_missing_parents_are_refused(chain, tmp_path):
    parent, _, _ = chain
    stranger = tmp_path / "stranger.avhdx"
    make_child(parent, stranger, SIZE, writes_for(2), linkage=uuid.uuid4().bytes_le)
    assert_one_line_failure(ferry("convert", "-O", "raw", stranger, tmp_path / "a.raw", check=False),
                     "DataWriteGuid", "replaced or written to")
    assert not (tmp_path / "a.raw").exists()
    orphan = tmp_path / "orphan.avhdx"
    make_child(parent, orphan, SIZE, writes_for(2), relative=".\\gone.vhdx")
    assert_one_line_failure(ferry("info", orphan, check=False), "gone.vhdx", "not found")
