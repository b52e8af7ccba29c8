"""OVF packages as ovftool writes them with --compress and --chunkSize: a
disk file gzip'd (ovf:compression="gzip"), split into NAME.000000000,
NAME.000000001, ... (ovf:chunkSize), or both; each piece checked against
the manifest, the disk comes out byte for byte. A tampered chunk, a
truncated gzip stream and a compression bomb are refused with one line."""

import gzip
import hashlib

import pytest

from image_helpers import MiB, have_qemu_img, qemu_img, write_pattern_raw, write_tar
from test_import import ferry_import, ovf_text

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]

DISK = "appliance-disk1.vmdk"


def packed_ovf(disk_name, capacity, gzip_it, chunk):
    attrs = ""
    if gzip_it:
        attrs += ' ovf:compression="gzip"'
    if chunk:
        attrs += f' ovf:chunkSize="{chunk}"'
    return ovf_text(disk_name, capacity).replace(
        f'ovf:href="{disk_name}"/>', f'ovf:href="{disk_name}"{attrs}/>')


def pieces(data, gzip_it, chunk):
    if gzip_it:
        data = gzip.compress(data, compresslevel=1)
    if not chunk:
        return {DISK: data}
    return {f"{DISK}.{i:09d}": data[at:at + chunk]
            for i, at in enumerate(range(0, len(data), chunk))}


def make(tmp_path, raw, gzip_it, chunk, tamper=None, as_ova=True, tamper_before_manifest=False):
    vmdk = tmp_path / "src.vmdk"
    qemu_img("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk)
    ovf = packed_ovf(DISK, raw.stat().st_size, gzip_it, chunk).encode()
    files = {"appliance.ovf": ovf, **pieces(vmdk.read_bytes(), gzip_it, chunk)}
    if tamper and tamper_before_manifest:
        name, data = tamper(files)
        files[name] = data
    mf = "".join(f"SHA256({n})= {hashlib.sha256(d).hexdigest()}\n" for n, d in files.items())
    if tamper and not tamper_before_manifest:
        name, data = tamper(files)
        files[name] = data
    members = [("appliance.ovf", ovf), ("appliance.mf", mf.encode())] + [
        (n, d) for n, d in files.items() if n != "appliance.ovf"]
    if not as_ova:
        d = tmp_path / "unpacked"
        d.mkdir()
        for name, data in members:
            (d / name).write_bytes(data)
        return d / "appliance.ovf"
    return write_tar(tmp_path / "appliance.ova", members)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return write_pattern_raw(tmp_path_factory.mktemp("packing") / "disk.raw", 40 * MiB)


@pytest.mark.parametrize("gzip_it,chunk,as_ova", [(True, 0, True), (False, 300000, True),
                                                   (True, 250000, True), (True, 250000, False)])
def test_compressed_and_chunked_disks_import(tmp_path, raw, gzip_it, chunk, as_ova):
    source = make(tmp_path, raw, gzip_it, chunk, as_ova=as_ova)
    out = tmp_path / "vm"
    r = ferry_import(source, "--out", out, "--no-fixup")
    assert (out / "disk0.raw").read_bytes() == raw.read_bytes()
    assert "not verified" not in r.stdout


def one_line(r, *words):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_tampered_chunk_is_named(tmp_path, raw):
    def flip(files):
        name = f"{DISK}.000000001"
        data = bytearray(files[name])
        data[100] ^= 1
        return name, bytes(data)
    ova = make(tmp_path, raw, True, 250000, tamper=flip)
    r = ferry_import(ova, "--out", tmp_path / "vm", check=False)
    one_line(r, f"SHA256 digest of {DISK}.000000001 does not match")
    assert not (tmp_path / "vm").exists()


def test_truncated_gzip_stream(tmp_path, raw):
    def cut(files):
        return DISK, files[DISK][:len(files[DISK]) // 2]
    # The manifest is made from the cut file: only the gzip stream is wrong.
    ova = make(tmp_path, raw, True, 0, tamper=cut, tamper_before_manifest=True)
    r = ferry_import(ova, "--out", tmp_path / "vm", check=False)
    one_line(r, DISK, "ends before its gzip stream does")
    assert not (tmp_path / "vm").exists()


def test_compression_bomb_is_refused(tmp_path):
    """A gzip stream that inflates far beyond 100x its size plus 1 GiB."""
    bomb = gzip.compress(bytes(2 << 30), compresslevel=9)  # 2 GiB of zeros, ~2 MiB
    assert len(bomb) * 100 + (1 << 30) < (2 << 30)
    ovf = packed_ovf(DISK, 1 << 20, True, 0).encode()
    ova = write_tar(tmp_path / "bomb.ova", [("appliance.ovf", ovf), (DISK, bomb)])
    r = ferry_import(ova, "--out", tmp_path / "vm", check=False)
    one_line(r, "compression bomb")
    assert not (tmp_path / "vm").exists()
