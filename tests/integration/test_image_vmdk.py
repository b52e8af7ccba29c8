"""VMDK against qemu-img: ferry reads every subformat qemu-img writes
(monolithicSparse, monolithicFlat, twoGbMaxExtentSparse/Flat,
streamOptimized) to the same bytes, and qemu-img accepts the
monolithicSparse and streamOptimized images ferry writes."""

import json
import struct

import pytest

from image_helpers import MiB, ferry, have_qemu_img, qemu_img, same_bytes, write_pattern_raw

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]

READ_SUBFORMATS = ["monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
                   "twoGbMaxExtentFlat", "streamOptimized"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_pattern_raw(tmp_path_factory.mktemp("vmdk") / "base.raw")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Past 2 GiB, so that twoGbMaxExtent images have several extents."""
    path = tmp_path_factory.mktemp("vmdkbig") / "big.raw"
    size = (2 << 30) + 64 * MiB
    with open(path, "wb") as f:
        f.truncate(size)
        for off in (MiB, (2 << 30) - 4096, (2 << 30) + 5 * MiB):
            f.seek(off)
            f.write(bytes(range(256)) * 64)
    return path


@pytest.mark.parametrize("subformat", READ_SUBFORMATS)
def test_reads_what_qemu_writes(tmp_path, base, subformat):
    img = tmp_path / "disk.vmdk"
    qemu_img("convert", "-O", "vmdk", "-o", f"subformat={subformat}", base, img)
    ferry("convert", "-O", "raw", img, tmp_path / "ferry.raw")
    assert same_bytes(tmp_path / "ferry.raw", base)
    assert ferry("compare", img, base).returncode == 0


@pytest.mark.parametrize("subformat", ["twoGbMaxExtentSparse", "twoGbMaxExtentFlat"])
def test_reads_split_extents(tmp_path, big, subformat):
    img = tmp_path / "split.vmdk"
    qemu_img("convert", "-O", "vmdk", "-o", f"subformat={subformat}", big, img)
    assert len(list(tmp_path.glob("split-*.vmdk"))) == 2
    assert ferry("compare", img, big).returncode == 0
    ours = json.loads(ferry("map", "--output=json", img).stdout)
    data = [(e["start"], e["length"]) for e in ours if e["data"]]
    assert data, ours


@pytest.mark.parametrize("subformat", ["monolithicSparse", "streamOptimized"])
def test_qemu_accepts_what_ferry_writes(tmp_path, base, subformat):
    img = tmp_path / "out.vmdk"
    ferry("convert", "-O", "vmdk", "-o", f"subformat={subformat}", base, img)
    assert qemu_img("check", img).returncode == 0
    assert qemu_img("compare", "-f", "vmdk", "-F", "raw", img, base).returncode == 0
    info = json.loads(qemu_img("info", "--output=json", img).stdout)
    assert info["format-specific"]["data"]["create-type"] == subformat
    # The descriptor names the final file, not the temporary one.
    assert "out.vmdk" in img.read_bytes()[:16384].decode("latin-1")
    assert ".ferry-part" not in img.read_bytes()[:16384].decode("latin-1")


def test_vmdk_to_qcow2(tmp_path, base):
    img = tmp_path / "in.vmdk"
    qemu_img("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", base, img)
    ferry("convert", "-f", "vmdk", "-O", "qcow2", img, tmp_path / "out.qcow2")
    assert qemu_img("check", tmp_path / "out.qcow2").returncode == 0
    assert qemu_img("compare", tmp_path / "out.qcow2", base).returncode == 0


def test_grain_table_loop_refused(tmp_path, base):
    img = tmp_path / "loop.vmdk"
    qemu_img("convert", "-O", "vmdk", base, img)
    with open(img, "r+b") as f:
        f.seek(56)
        gd_sector = struct.unpack("<Q", f.read(8))[0]
        f.seek(gd_sector * 512)
        f.write(struct.pack("<I", gd_sector))  # grain table 0 = the directory itself
    r = ferry("convert", img, tmp_path / "out.raw", check=False)
    assert r.returncode == 1
    assert "overlaps" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.raw").exists()


def test_grain_past_end_refused(tmp_path, base):
    img = tmp_path / "bad.vmdk"
    qemu_img("convert", "-O", "vmdk", base, img)
    with open(img, "r+b") as f:
        f.seek(56)
        gd_sector = struct.unpack("<Q", f.read(8))[0]
        f.seek(gd_sector * 512)
        gt_sector = struct.unpack("<I", f.read(4))[0]
        f.seek(gt_sector * 512 + 4 * 20)  # grain 20 = guest offset 1.25 MiB, which has data
        f.write(struct.pack("<I", 0x7FFFFFF0))
    r = ferry("convert", img, tmp_path / "out.raw", check=False)
    assert r.returncode == 1 and "past the end of the file" in r.stderr
    # check finds what qemu-img check finds ("points after EOF"; qemu-img
    # then exits 1, "check failed"), and says corrupt with qemu-img's 2.
    r = ferry("check", img, check=False)
    assert r.returncode == 2 and "past the end of the file" in r.stdout, r.stdout
    q = qemu_img("check", img, check=False)
    assert q.returncode != 0 and "after EOF" in q.stderr


@pytest.mark.parametrize("fmt,opts", [("vmdk", "subformat=monolithicSparse"),
                                      ("vmdk", "subformat=streamOptimized"),
                                      ("vhdx", "subformat=dynamic"), ("vpc", "subformat=dynamic")])
def test_check_of_clean_images(tmp_path, base, fmt, opts):
    """VMDK, VHDX and VHD are checked structurally (qcow2 cluster by
    cluster): a clean image is 0 in ferry as in qemu-img; raw has no checks."""
    import json
    img = tmp_path / f"clean.{fmt}"
    qemu_img("convert", "-O", fmt, "-o", opts, base, img)
    r = ferry("check", "-f", fmt, img)
    assert "No errors were found on the image." in r.stdout
    j = json.loads(ferry("check", "-f", fmt, "--output=json", img).stdout)
    assert j["corruptions"] == 0 and j["format"] == fmt
    assert j["image-end-offset"] == img.stat().st_size
    assert ferry("check", "-r", "all", img, check=False).returncode == 1
