"""Damaged and hostile images: each gives one clear line, a non-zero exit,
and no output under the final name (nor a leftover temporary file)."""

import struct

import pytest

from image_helpers import MiB, Qcow2, ferry, have_qemu_img, qemu_img, write_pattern_raw

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]


@pytest.fixture
def good(tmp_path):
    raw = write_pattern_raw(tmp_path / "src.raw", size=8 * MiB)
    img = tmp_path / "good.qcow2"
    qemu_img("convert", "-O", "qcow2", raw, img)
    raw.unlink()
    return img


def assert_refused(tmp_path, img, *needles):
    out = tmp_path / "out"
    r = ferry("convert", "-O", "raw", img, out, check=False)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(("out", ".out"))]
    assert leftovers == []
    return lines[0]


def test_truncated_header(tmp_path, good):
    with open(good, "r+b") as f:
        f.truncate(50)
    assert_refused(tmp_path, good, "too short")
    assert ferry("info", good, check=False).returncode == 1


def test_l2_table_past_end_of_file(tmp_path, good):
    q = Qcow2(good)
    q.write_u64(q.l1_offset, (1 << 63) | (1 << 40))
    assert_refused(tmp_path, good, "L2 table 0", "past the end of the file")
    r = ferry("check", good, check=False)
    assert r.returncode == 2 and "past the end of the file" in r.stdout


def test_refcount_table_overlapping_header(tmp_path, good):
    with open(good, "r+b") as f:
        f.seek(48)
        f.write(struct.pack(">Q", 0))
    assert_refused(tmp_path, good, "refcount table", "overlaps the header")


def test_l2_table_overlapping_l1(tmp_path, good):
    q = Qcow2(good)
    q.write_u64(q.l1_offset, (1 << 63) | q.l1_offset)
    assert_refused(tmp_path, good, "overlaps the L1 table")


def test_data_cluster_past_end_of_file(tmp_path, good):
    q = Qcow2(good)
    l2 = q.first_l2_offset()
    for i in range(q.cluster_size // 8):
        if q.read_u64(l2 + 8 * i):
            q.write_u64(l2 + 8 * i, (1 << 63) | (1 << 45))
            break
    assert_refused(tmp_path, good, "past the end of the file")


def test_reserved_bits_in_l1(tmp_path, good):
    q = Qcow2(good)
    q.write_u64(q.l1_offset, q.read_u64(q.l1_offset) | 0x1)
    assert_refused(tmp_path, good, "reserved bits")


def test_bad_cluster_bits(tmp_path, good):
    with open(good, "r+b") as f:
        f.seek(20)
        f.write(struct.pack(">I", 40))
    assert_refused(tmp_path, good, "cluster_bits")


def test_unknown_incompatible_feature(tmp_path, good):
    with open(good, "r+b") as f:
        f.seek(72)
        f.write(struct.pack(">Q", 1 << 20))
    assert_refused(tmp_path, good, "incompatible features")


def test_backing_chain_loop(tmp_path):
    a, b = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    qemu_img("create", "-f", "qcow2", b, "1M")
    qemu_img("create", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", a)
    qemu_img("rebase", "-u", "-b", "a.qcow2", "-F", "qcow2", b)
    assert_refused(tmp_path, a, "loops")


def test_damaged_compressed_cluster(tmp_path):
    raw = write_pattern_raw(tmp_path / "src.raw", size=32 * MiB)
    img = tmp_path / "c.qcow2"
    qemu_img("convert", "-c", "-O", "qcow2", raw, img)
    raw.unlink()
    q = Qcow2(img)
    # Find a compressed entry and scribble over its data.
    l2 = q.first_l2_offset()
    for i in range(q.cluster_size // 8):
        e = q.read_u64(l2 + 8 * i)
        if e & (1 << 62):
            host = e & ((1 << (62 - (q.cluster_bits - 8))) - 1)
            with open(img, "r+b") as f:
                f.seek(host)
                f.write(b"\xff" * 64)
            break
    assert_refused(tmp_path, img, "compressed")
