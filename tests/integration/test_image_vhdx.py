"""VHDX against qemu-img: ferry reads what qemu-img writes (dynamic and
fixed, several block sizes) to the same bytes, and refuses damaged images
with one line and no output."""

import struct

import pytest

from ferrystate import crc32c
from image_helpers import MiB, ferry, have_qemu_img, qemu_img, raw_of, same_bytes, write_pattern_raw

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]

BAT_GUID = bytes.fromhex("6677c22d23f600429d64115e9bfd4a08")


def reseal(buf, at=4):
    """Recomputes a VHDX checksum (CRC32C with the field taken as zero)."""
    buf[at:at + 4] = b"\0\0\0\0"
    buf[at:at + 4] = struct.pack("<I", crc32c(bytes(buf)))


def bat_offset(path):
    with open(path, "rb") as f:
        f.seek(192 * 1024)
        table = f.read(64 * 1024)
    count = struct.unpack_from("<I", table, 8)[0]
    for i in range(count):
        guid, offset, _length, _req = struct.unpack_from("<16sQII", table, 16 + 32 * i)
        if guid == BAT_GUID:
            return offset
    raise AssertionError("no BAT region")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_pattern_raw(tmp_path_factory.mktemp("vhdx") / "base.raw")


@pytest.fixture
def image(tmp_path, base):
    img = tmp_path / "q.vhdx"
    qemu_img("convert", "-O", "vhdx", "-o", "block_size=1M", base, img)
    return img


@pytest.mark.parametrize("options", ["subformat=dynamic", "subformat=fixed",
                                     "block_size=1M", "block_size=32M,block_state_zero=off",
                                     "subformat=fixed,block_state_zero=off"])
def test_reads_what_qemu_writes(tmp_path, base, options):
    img = tmp_path / "q.vhdx"
    qemu_img("convert", "-O", "vhdx", "-o", options, base, img)
    info = ferry("info", "--output=json", img).stdout
    assert '"format": "vhdx"' in info
    raw_of(img, tmp_path / "qemu.raw", fmt="vhdx")
    ferry("convert", img, tmp_path / "ferry.raw")
    assert same_bytes(tmp_path / "qemu.raw", tmp_path / "ferry.raw")
    assert same_bytes(base, tmp_path / "ferry.raw")
    assert ferry("compare", img, base).returncode == 0


def test_converts_to_every_writable_format(tmp_path, image, base):
    for fmt in ("qcow2", "vmdk", "vpc"):
        out = tmp_path / f"out.{fmt}"
        ferry("convert", "-O", fmt, image, out)
        assert qemu_img("compare", "-F", "raw", out, base).returncode == 0


def test_odd_size_and_empty_disk(tmp_path):
    src = tmp_path / "odd.raw"
    with open(src, "wb") as f:
        f.truncate(3 * MiB + 512)
        f.seek(3 * MiB)
        f.write(b"\x5a" * 512)  # data in the short last block
    for name, source in (("odd", src), ("empty", None)):
        img = tmp_path / f"{name}.vhdx"
        if source:
            qemu_img("convert", "-O", "vhdx", "-o", "block_size=1M", source, img)
        else:
            qemu_img("create", "-f", "vhdx", img, "0")
        raw_of(img, tmp_path / f"{name}.qemu.raw", fmt="vhdx")
        ferry("convert", img, tmp_path / f"{name}.ferry.raw")
        assert same_bytes(tmp_path / f"{name}.qemu.raw", tmp_path / f"{name}.ferry.raw")


def refused(tmp_path, img, needle):
    out = tmp_path / "out.raw"
    r = ferry("convert", img, out, check=False)
    assert r.returncode == 1, r.stderr
    assert needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_one_damaged_header_falls_back_to_the_other(tmp_path, image, base):
    with open(image, "r+b") as f:
        f.seek(128 * 1024 + 100)
        f.write(b"\xff")  # header 2 carries the higher sequence number
    ferry("convert", image, tmp_path / "ferry.raw")
    assert same_bytes(base, tmp_path / "ferry.raw")


def test_both_headers_damaged_refused(tmp_path, image):
    with open(image, "r+b") as f:
        for at in (64 * 1024, 128 * 1024):
            f.seek(at + 100)
            f.write(b"\xff")
    refused(tmp_path, image, "both headers are invalid")


def test_truncated_image_refused(tmp_path, image):
    with open(image, "r+b") as f:
        f.truncate(200 * 1024)
    refused(tmp_path, image, "too short")


def patch_bat_entry(image, index, value):
    with open(image, "r+b") as f:
        f.seek(bat_offset(image) + 8 * index)
        f.write(struct.pack("<Q", value))


def test_block_past_end_refused(tmp_path, image):
    patch_bat_entry(image, 1, (1 << 30) << 20 | 6)  # block 1 at 1 PiB
    refused(tmp_path, image, "past the end of the file")


def test_block_over_bat_refused(tmp_path, image):
    patch_bat_entry(image, 1, (bat_offset(image) // MiB) << 20 | 6)
    refused(tmp_path, image, "overlaps metadata or another block")


def test_two_blocks_sharing_storage_refused(tmp_path, image):
    with open(image, "rb") as f:
        f.seek(bat_offset(image) + 8)  # block 1 holds data in the pattern
        entry = struct.unpack("<Q", f.read(8))[0]
    assert entry & 7 == 6
    patch_bat_entry(image, 0, entry)
    refused(tmp_path, image, "overlaps metadata or another block")


def test_invalid_block_state_refused(tmp_path, image):
    patch_bat_entry(image, 0, 5)
    refused(tmp_path, image, "invalid state")


def test_region_table_checksum_falls_back_then_refuses(tmp_path, image, base):
    with open(image, "r+b") as f:
        f.seek(192 * 1024 + 40)
        f.write(b"\xee")
    ferry("convert", image, tmp_path / "ferry.raw")  # the second copy is intact
    assert same_bytes(base, tmp_path / "ferry.raw")
    with open(image, "r+b") as f:
        f.seek(256 * 1024 + 40)
        f.write(b"\xee")
    refused(tmp_path, image, "region table checksum mismatch")


def write_log(image, descriptors, sequence=7, flushed=None, last=None):
    """Names a log GUID in both headers and writes one log entry holding
    `descriptors`: ("data", file_offset, 4096 bytes) or ("zero", file_offset,
    length), as Hyper-V leaves them when it stops before the log is applied."""
    guid = bytes(range(1, 17))
    size = image.stat().st_size
    with open(image, "r+b") as f:
        for at in (64 * 1024, 128 * 1024):
            f.seek(at)
            header = bytearray(f.read(4096))
            header[48:64] = guid
            log_length, log_offset = struct.unpack_from("<IQ", header, 68)
            reseal(header)
            f.seek(at)
            f.write(header)
        data = [d for d in descriptors if d[0] == "data"]
        head_bytes = 64 + 32 * len(descriptors)
        head_area = (head_bytes + 4095) // 4096 * 4096
        length = head_area + 4096 * len(data)
        assert length <= log_length
        entry = bytearray(length)
        entry[0:4] = b"loge"
        struct.pack_into("<IIQII", entry, 8, length, 0, sequence, len(descriptors), 0)
        entry[32:48] = guid
        struct.pack_into("<QQ", entry, 48, size if flushed is None else flushed,
                         size if last is None else last)
        sector = head_area
        for i, d in enumerate(descriptors):
            at = 64 + 32 * i
            if d[0] == "zero":
                struct.pack_into("<4sIQQQ", entry, at, b"zero", 0, d[2], d[1], sequence)
            else:
                payload = d[2]
                struct.pack_into("<4s4s8sQQ", entry, at, b"desc", payload[4092:], payload[:8],
                                 d[1], sequence)
                struct.pack_into("<4sI", entry, sector, b"data", sequence >> 32)
                entry[sector + 8:sector + 4092] = payload[8:4092]
                struct.pack_into("<I", entry, sector + 4092, sequence & 0xFFFFFFFF)
                sector += 4096
        reseal(entry)
        f.seek(log_offset)
        f.write(entry)


def test_log_is_replayed_in_memory_like_qemu_replays_it(tmp_path, image, base):
    """A log entry that rewrites one 4 KiB of guest data and zeroes another:
    ferry reads the image as qemu-img does after it replays the log into a
    copy (qemu only replays when it may write), and leaves the file as it was."""
    import hashlib
    import random
    import shutil
    raw = image.read_bytes()
    guest = base.read_bytes()
    host_a = raw.find(guest[MiB:MiB + 4096])        # where guest offset 1 MiB is stored
    host_b = raw.find(guest[MiB + 8192:MiB + 12288])
    assert host_a > 0 and host_b > 0
    new = random.Random(5).randbytes(4096)
    write_log(image, [("data", host_a, new), ("zero", host_b, 4096)])
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    ferry("convert", "-O", "raw", image, tmp_path / "ferry.raw")
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    want = bytearray(guest)
    want[MiB:MiB + 4096] = new
    want[MiB + 8192:MiB + 12288] = bytes(4096)
    assert (tmp_path / "ferry.raw").read_bytes() == bytes(want)
    info = ferry("info", image).stdout
    assert "1 entries replayed in memory" in info
    replayed = tmp_path / "replayed.vhdx"
    shutil.copy(image, replayed)
    qemu_img("check", "-r", "all", replayed, check=False)  # opening it writable replays the log
    qemu_img("convert", "-f", "vhdx", "-O", "raw", replayed, tmp_path / "qemu.raw")
    assert same_bytes(tmp_path / "qemu.raw", tmp_path / "ferry.raw")


def test_log_of_a_cut_file_is_refused(tmp_path, image):
    write_log(image, [("zero", 4 << 20, 4096)], flushed=image.stat().st_size + (8 << 20))
    refused(tmp_path, image, "its log says were flushed")


def test_log_of_another_guid_or_sequence_is_ignored(tmp_path, image, base):
    """Entries that are not the active sequence (a zero sequence number here)
    are left alone, as the specification says."""
    write_log(image, [("zero", 4 << 20, 4096)], sequence=0)
    ferry("convert", image, tmp_path / "ferry.raw")
    assert same_bytes(base, tmp_path / "ferry.raw")


def test_holes_inside_blocks_are_not_read(tmp_path, base):
    """qemu-img leaves the unwritten parts of a 32 MiB block as holes in the
    file: the map calls them zero, so convert never reads them."""
    import json
    img = tmp_path / "q.vhdx"
    qemu_img("convert", "-O", "vhdx", "-o", "block_size=32M", base, img)
    extents = json.loads(ferry("map", "--output=json", img).stdout)
    data = sum(e["length"] for e in extents if e["data"])
    assert data < 8 * (1 << 20), data  # the pattern holds about 4 MiB of data


@pytest.mark.parametrize("opts", [[], ["-o", "cluster_size=1M"]])
def test_qemu_accepts_what_ferry_writes(tmp_path, base, opts):
    """ferry writes dynamic VHDX (Hyper-V's 32 MiB blocks by default):
    qemu-img checks it clean and reads the same bytes; the file stays sparse."""
    img = tmp_path / "f.vhdx"
    ferry("convert", "-O", "vhdx", *opts, base, img)
    assert qemu_img("check", "-f", "vhdx", img).returncode == 0
    assert qemu_img("compare", "-f", "vhdx", "-F", "raw", img, base).returncode == 0
    assert ferry("compare", img, base).returncode == 0
    info = qemu_img("info", "-f", "vhdx", img).stdout
    assert ("cluster_size: 1048576" if opts else "cluster_size: 33554432") in info
    assert img.stat().st_blocks * 512 < base.stat().st_size // 2  # holes stay holes


def test_create_empty_vhdx(tmp_path):
    img = tmp_path / "e.vhdx"
    ferry("create", "-f", "vhdx", img, "3G")
    assert "virtual size: 3 GiB" in qemu_img("info", img).stdout
    assert qemu_img("check", img).returncode == 0
    r = ferry("create", "-f", "vhdx", "-o", "cluster_size=3M", tmp_path / "bad.vhdx", "1G",
              check=False)
    assert r.returncode != 0 and "power of two" in r.stderr
