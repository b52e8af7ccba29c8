"""VHD ("vpc") against qemu-img: fixed and dynamic, both ways."""

import json
import struct

import pytest

from image_helpers import ferry, have_qemu_img, qemu_img, raw_of, same_bytes, write_pattern_raw

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_pattern_raw(tmp_path_factory.mktemp("vhd") / "base.raw")


@pytest.mark.parametrize("subformat", ["dynamic", "fixed"])
def test_reads_what_qemu_writes(tmp_path, base, subformat):
    img = tmp_path / "q.vhd"
    qemu_img("convert", "-O", "vpc", "-o", f"subformat={subformat}", base, img)
    # qemu rounds the size up to a CHS geometry; both must agree on it.
    theirs = json.loads(qemu_img("info", "-f", "vpc", "--output=json", img).stdout)
    ours = json.loads(ferry("info", "-f", "vpc", "--output=json", img).stdout)
    assert ours["virtual-size"] == theirs["virtual-size"]
    raw_of(img, tmp_path / "qemu.raw", fmt="vpc")
    ferry("convert", "-f", "vpc", img, tmp_path / "ferry.raw")
    assert same_bytes(tmp_path / "qemu.raw", tmp_path / "ferry.raw")


@pytest.mark.parametrize("subformat", ["dynamic", "fixed"])
def test_qemu_accepts_what_ferry_writes(tmp_path, base, subformat):
    img = tmp_path / "f.vhd"
    ferry("convert", "-O", "vpc", "-o", f"subformat={subformat}", base, img)
    info = json.loads(qemu_img("info", "-f", "vpc", "--output=json", img).stdout)
    assert info["virtual-size"] == base.stat().st_size
    assert qemu_img("compare", "-f", "vpc", "-F", "raw", img, base).returncode == 0
    # ferry finds the fixed footer at the end without -f.
    assert ferry("compare", img, base).returncode == 0


def test_bad_footer_checksum_refused(tmp_path, base):
    img = tmp_path / "bad.vhd"
    ferry("convert", "-O", "vpc", base, img)
    with open(img, "r+b") as f:
        f.seek(48)
        f.write(struct.pack(">Q", 1 << 40))  # change the size, keep the checksum
    r = ferry("convert", img, tmp_path / "out.raw", check=False)
    assert r.returncode == 1 and "checksum" in r.stderr
    assert not (tmp_path / "out.raw").exists()


def test_block_past_end_refused(tmp_path, base):
    img = tmp_path / "bad.vhd"
    ferry("convert", "-O", "vpc", base, img)
    with open(img, "r+b") as f:
        f.seek(512 + 16)
        bat = struct.unpack(">Q", f.read(8))[0]
        f.seek(bat)
        f.write(struct.pack(">I", 0x7FFFFFF0))
    r = ferry("convert", img, tmp_path / "out.raw", check=False)
    assert r.returncode == 1 and "past the end of the file" in r.stderr
