"""`ferry image` against qemu-img, both ways, for raw and qcow2: every image
qemu-img writes ferry reads to the same bytes; every image ferry writes
passes qemu-img check and compare."""

import json
import os

import pytest

from image_helpers import (MiB, Qcow2, ferry, have_qemu_img, qemu_img, raw_of, same_bytes,
                           write_pattern_raw)

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("base")
    return write_pattern_raw(d / "base.raw")


QEMU_VARIANTS = {
    "v3": ["-O", "qcow2"],
    "v2": ["-O", "qcow2", "-o", "compat=0.10"],
    "small-clusters": ["-O", "qcow2", "-o", "cluster_size=4096"],
    "big-clusters": ["-O", "qcow2", "-o", "cluster_size=2M"],
    "deflate": ["-O", "qcow2", "-c"],
    "zstd": ["-O", "qcow2", "-c", "-o", "compression_type=zstd"],
    "refcount-bits-1": ["-O", "qcow2", "-o", "refcount_bits=1"],
    "refcount-bits-64": ["-O", "qcow2", "-o", "refcount_bits=64"],
}


@pytest.mark.parametrize("variant", sorted(QEMU_VARIANTS))
def test_reads_what_qemu_writes(tmp_path, base, variant):
    img = tmp_path / "img.qcow2"
    qemu_img("convert", *QEMU_VARIANTS[variant], base, img)
    ferry("convert", "-O", "raw", img, tmp_path / "ferry.raw")
    assert same_bytes(tmp_path / "ferry.raw", base)
    assert ferry("compare", img, base).returncode == 0
    assert ferry("check", img).returncode == 0


def test_reads_backing_chain_with_zero_clusters(tmp_path, base):
    mid = tmp_path / "mid.qcow2"
    top = tmp_path / "top.qcow2"
    qemu_img("convert", "-O", "qcow2", base, tmp_path / "bottom.qcow2")
    qemu_img("create", "-f", "qcow2", "-b", "bottom.qcow2", "-F", "qcow2", mid)
    qemu_img("create", "-f", "qcow2", "-o", "compat=0.10", "-b", "mid.qcow2", "-F", "qcow2", top)
    qemu_io(mid, "write -P 0xaa 1M 64k", "write -z 30M 1M", "write -P 0x11 40M 512")
    qemu_io(top, "write -P 0xbb 1088k 4k", "write -P 0x22 63M 1M")
    raw_of(top, tmp_path / "qemu.raw")
    ferry("convert", "-O", "raw", top, tmp_path / "ferry.raw")
    assert same_bytes(tmp_path / "qemu.raw", tmp_path / "ferry.raw")
    info = json.loads(ferry("info", "--output=json", top).stdout)
    assert info["backing-filename"] == "mid.qcow2"
    chain = json.loads(ferry("info", "--output=json", "--backing-chain", top).stdout)
    assert [os.path.basename(i["filename"]) for i in chain] == ["top.qcow2", "mid.qcow2",
                                                                "bottom.qcow2"]


def qemu_io(img, *commands):
    import subprocess
    args = ["qemu-io", "-f", "qcow2"]
    for c in commands:
        args += ["-c", c]
    subprocess.run(args + [str(img)], check=True, capture_output=True)


def test_reads_image_with_internal_snapshots(tmp_path, base):
    img = tmp_path / "snap.qcow2"
    qemu_img("convert", "-O", "qcow2", base, img)
    qemu_img("snapshot", "-c", "one", img)
    qemu_io(img, "write -P 0x33 1M 128k")
    qemu_img("snapshot", "-c", "two", img)
    qemu_io(img, "write -P 0x44 1M 64k")
    raw_of(img, tmp_path / "qemu.raw")
    ferry("convert", img, tmp_path / "ferry.raw")
    assert same_bytes(tmp_path / "qemu.raw", tmp_path / "ferry.raw")
    assert ferry("check", img).returncode == 0


FERRY_VARIANTS = {
    "default": [],
    "v2": ["-o", "compat=0.10"],
    "4k-clusters": ["-o", "cluster_size=4k"],
    "2m-clusters": ["-o", "cluster_size=2M"],
    "deflate": ["-c"],
    "zstd": ["-c", "-o", "compression_type=zstd"],
    "serial": ["-m", "1"],
}


@pytest.mark.parametrize("variant", sorted(FERRY_VARIANTS))
def test_qemu_accepts_what_ferry_writes(tmp_path, base, variant):
    img = tmp_path / "out.qcow2"
    ferry("convert", "-O", "qcow2", *FERRY_VARIANTS[variant], base, img)
    check = qemu_img("check", "--output=json", img, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert qemu_img("compare", "-f", "qcow2", "-F", "raw", img, base).returncode == 0
    raw_of(img, tmp_path / "back.raw")
    assert same_bytes(tmp_path / "back.raw", base)


def test_sparse_detection_skips_explicit_zeros(tmp_path, base):
    img = tmp_path / "out.qcow2"
    ferry("convert", "-O", "qcow2", base, img)
    extents = json.loads(ferry("map", "--output=json", img).stdout)
    zero_run = [e for e in extents if e["start"] <= 20 * MiB < e["start"] + e["length"]]
    assert zero_run and zero_run[0]["zero"] and not zero_run[0]["data"]
    # -S 0: fully allocated output, as with qemu-img.
    full = tmp_path / "full.raw"
    ferry("convert", "-S", "0", base, full)
    assert os.stat(full).st_blocks * 512 >= 64 * MiB
    assert same_bytes(full, base)


def test_map_matches_qemu(tmp_path, base):
    img = tmp_path / "img.qcow2"
    qemu_img("convert", "-O", "qcow2", base, img)
    qemu_io(img, "write -z 1M 64k", "discard 10M 64k")
    ours = json.loads(ferry("map", "--output=json", img).stdout)
    theirs = json.loads(qemu_img("map", "--output=json", img).stdout)
    assert ours == theirs


def test_check_exit_codes_match_qemu(tmp_path, base):
    img = tmp_path / "img.qcow2"
    qemu_img("convert", "-O", "qcow2", base, img)
    q = Qcow2(img)
    # A leak: a refcount on a cluster that nothing uses.
    clusters = os.path.getsize(img) // q.cluster_size
    leaky = tmp_path / "leaky.qcow2"
    leaky.write_bytes(img.read_bytes())
    os.truncate(leaky, (clusters + 2) * q.cluster_size)
    Qcow2(leaky).set_refcount(clusters + 1, 1)
    assert qemu_img("check", leaky, check=False).returncode == 3
    r = ferry("check", leaky, check=False)
    assert r.returncode == 3, r.stdout
    assert "Leaked cluster" in r.stdout
    # Corruption: a data cluster whose refcount says free.
    corrupt = tmp_path / "corrupt.qcow2"
    corrupt.write_bytes(img.read_bytes())
    c = Qcow2(corrupt)
    l2 = c.first_l2_offset()
    data_cluster = next(e for e in (c.read_u64(l2 + 8 * i) for i in range(4096)) if e)
    c.set_refcount((data_cluster & 0x00FFFFFFFFFFFE00) // c.cluster_size, 0)
    assert qemu_img("check", corrupt, check=False).returncode == 2
    r = ferry("check", corrupt, check=False)
    assert r.returncode == 2, r.stdout
    assert "ERROR cluster" in r.stdout
    # Raw images have nothing to check: qemu-img's 63.
    assert ferry("check", "-f", "raw", base, check=False).returncode == 63


def test_compare_exit_codes(tmp_path, base):
    img = tmp_path / "img.qcow2"
    ferry("convert", "-O", "qcow2", base, img)
    assert ferry("compare", base, img).returncode == 0
    other = tmp_path / "other.raw"
    other.write_bytes(base.read_bytes())
    with open(other, "r+b") as f:
        f.seek(5 * MiB + 7)
        f.write(b"x")
    r = ferry("compare", img, other, check=False)
    assert r.returncode == 1
    assert f"offset {5 * MiB + 7}" in r.stdout
    # A longer image whose extra part is zero is equal, unless strict.
    longer = tmp_path / "longer.raw"
    longer.write_bytes(base.read_bytes())
    os.truncate(longer, 80 * MiB)
    assert ferry("compare", img, longer).returncode == 0
    assert ferry("compare", "-s", img, longer, check=False).returncode == 1
    assert ferry("compare", img, tmp_path / "missing.raw", check=False).returncode == 2


def test_create_with_backing_file(tmp_path, base):
    qemu_img("convert", "-O", "qcow2", base, tmp_path / "base.qcow2")
    top = tmp_path / "top.qcow2"
    ferry("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
    assert qemu_img("check", top).returncode == 0
    info = json.loads(qemu_img("info", "--output=json", top).stdout)
    assert info["backing-filename"] == "base.qcow2"
    assert info["virtual-size"] == 64 * MiB
    assert qemu_img("compare", top, base).returncode == 0
    qemu_io(top, "write -P 0x5a 3M 64k")
    raw_of(top, tmp_path / "qemu.raw")
    ferry("convert", top, tmp_path / "ferry.raw")
    assert same_bytes(tmp_path / "qemu.raw", tmp_path / "ferry.raw")


@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_create_empty(tmp_path, compat):
    img = tmp_path / "e.qcow2"
    ferry("create", "-f", "qcow2", "-o", f"compat={compat}", img, "1G")
    assert qemu_img("check", img).returncode == 0
    info = json.loads(qemu_img("info", "--output=json", img).stdout)
    assert info["virtual-size"] == 1 << 30
    assert info["format-specific"]["data"]["compat"] == compat


def test_resize_grow_and_shrink(tmp_path, base):
    img = tmp_path / "img.qcow2"
    ferry("convert", "-O", "qcow2", base, img)
    # Past one L2 table's span (512 MiB), so the L1 table must grow.
    ferry("resize", img, "+2G")
    assert qemu_img("check", img).returncode == 0
    assert json.loads(qemu_img("info", "--output=json", img).stdout)["virtual-size"] == (
        64 * MiB + (2 << 30))
    assert qemu_img("compare", img, base).returncode == 0  # the new part reads zero
    qemu_io(img, "write -P 0x77 1G 1M")
    r = ferry("resize", img, "64M", check=False)
    assert r.returncode == 1 and "--shrink" in r.stderr
    ferry("resize", "--shrink", img, "64M")
    assert qemu_img("check", img).returncode == 0
    assert qemu_img("compare", img, base).returncode == 0
    # qemu's own image, grown by ferry.
    theirs = tmp_path / "theirs.qcow2"
    qemu_img("convert", "-O", "qcow2", base, theirs)
    ferry("resize", theirs, "3G")
    assert qemu_img("check", theirs).returncode == 0
    assert qemu_img("compare", theirs, base).returncode == 0
    # Raw.
    raw = tmp_path / "r.raw"
    raw.write_bytes(b"")
    ferry("resize", "-f", "raw", raw, "1M")
    assert os.path.getsize(raw) == MiB


def test_measure(tmp_path, base):
    out = json.loads(ferry("measure", "-O", "qcow2", "--output=json", base).stdout)
    ferry("convert", "-O", "qcow2", base, tmp_path / "o.qcow2")
    assert out["required"] >= os.path.getsize(tmp_path / "o.qcow2")
    assert out["fully-allocated"] > 64 * MiB
    theirs = json.loads(qemu_img("measure", "-O", "qcow2", "--output=json", base).stdout)
    # Same data, different layouts: within a few clusters of each other.
    assert abs(out["required"] - theirs["required"]) <= 8 * 65536
    sized = ferry("measure", "-O", "qcow2", "--size", "16G").stdout
    assert "required size:" in sized and "fully allocated size:" in sized


def test_convert_refuses_existing_target_and_leaves_no_partial(tmp_path, base):
    dst = tmp_path / "dst.qcow2"
    dst.write_bytes(b"keep me")
    r = ferry("convert", "-O", "qcow2", base, dst, check=False)
    assert r.returncode == 1 and "--force" in r.stderr
    assert dst.read_bytes() == b"keep me"
    ferry("convert", "-O", "qcow2", "--force", base, dst)
    assert qemu_img("compare", dst, base).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.qcow2"]


def test_progress_and_parallel_copy(tmp_path, base):
    r = ferry("convert", "-p", "-m", "4", "-O", "qcow2", base, tmp_path / "p.qcow2")
    assert "100.00/100%" in r.stderr
    ferry("convert", "-m", "1", "-O", "qcow2", base, tmp_path / "s.qcow2")
    assert ferry("compare", tmp_path / "p.qcow2", tmp_path / "s.qcow2").returncode == 0


def test_convert_onto_existing_raw_target(tmp_path, base):
    target = tmp_path / "disk.raw"
    target.write_bytes(b"\xff" * (64 * MiB))  # old contents that must not survive
    ferry("convert", "-n", "-O", "raw", base, target)
    assert same_bytes(target, base)
