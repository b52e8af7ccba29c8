"""P2V from a loop device and V2P back: identical bytes both ways, fix-ups
applied on the way in, a read-write mount named plainly."""

import os
import shutil
import subprocess

import pytest

from image_helpers import (MiB, build_disk, debugfs_cat, ferry_bin, have_qemu_img, mkfs_ext4,
                           qemu_img, same_bytes)

FSTAB = b"/dev/sda1 / ext4 defaults 0 1\n/dev/sdb1 /data ext4 defaults 0 2\n"


def can_loop():
    if os.geteuid() != 0 or not shutil.which("losetup"):
        return False
    return subprocess.run(["losetup", "-f"], capture_output=True).returncode == 0


pytestmark = [pytest.mark.skipif(not have_qemu_img() or not shutil.which("mke2fs"),
                                 reason="qemu-img or e2fsprogs missing"),
              pytest.mark.skipif(not can_loop(), reason="needs root and loop devices")]


@pytest.fixture
def loop():
    """Attaches files to loop devices; detaches them all afterwards."""
    devices = []

    def attach(path):
        dev = subprocess.run(["losetup", "-f", "--show", str(path)], capture_output=True,
                             text=True, check=True).stdout.strip()
        devices.append(dev)
        return dev

    yield attach
    for dev in devices:
        subprocess.run(["losetup", "-d", dev], check=False)


def ferry(cmd, *args, check=True):
    r = subprocess.run([str(ferry_bin()), cmd, *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"ferry {cmd} exited {r.returncode}: {r.stderr}")
    return r


def guest(tmp_path):
    root = mkfs_ext4(tmp_path / "root.img", 16 * MiB,
                     {"etc/fstab": FSTAB, "etc/hostname": b"physical\n"}, "root")
    disk = tmp_path / "physical.raw"
    spans = build_disk(disk, [root.read_bytes()], "mbr")
    root.unlink()
    return disk, spans


def test_p2v_then_v2p_round_trip(tmp_path, loop):
    disk, _ = guest(tmp_path)
    source = loop(disk)
    img = tmp_path / "p2v.qcow2"
    r = ferry("p2v", "--source", source, "--out", img, "--no-fixup")
    assert "imaged" in r.stdout
    assert qemu_img("compare", "-F", "raw", img, disk).returncode == 0
    assert qemu_img("check", img).returncode == 0
    # Back onto a second "physical" disk, zeroed, larger than the image.
    target_file = tmp_path / "target.raw"
    with open(target_file, "wb") as f:
        f.truncate(disk.stat().st_size + 4 * MiB)
    target = loop(target_file)
    r = ferry("v2p", img, "--target", target, "--verify", "--target-is-zero")
    assert "verified" in r.stdout
    with open(target_file, "rb") as f:
        written = f.read(disk.stat().st_size)
    assert written == disk.read_bytes()


def test_v2p_onto_dirty_disk_writes_zeros(tmp_path, loop):
    disk, _ = guest(tmp_path)
    img = tmp_path / "img.qcow2"
    qemu_img("convert", "-O", "qcow2", disk, img)
    target_file = tmp_path / "dirty.raw"
    target_file.write_bytes(b"\xaa" * disk.stat().st_size)
    target = loop(target_file)
    r = ferry("v2p", img, "--target", target, "--verify")
    assert "zeros written" in r.stdout and "verified" in r.stdout
    assert same_bytes(target_file, disk)


def test_p2v_applies_fixups(tmp_path, loop):
    disk, spans = guest(tmp_path)
    source = loop(disk)
    img = tmp_path / "p2v.raw"
    r = ferry("p2v", "--source", source, "--out", img, "-O", "raw")
    assert "/etc/fstab: 2 device name(s) rewritten" in r.stdout
    assert debugfs_cat(img, spans[0][0], "/etc/fstab") == FSTAB.replace(b"/dev/sd", b"/dev/vd")
    assert debugfs_cat(disk, spans[0][0], "/etc/fstab") == FSTAB  # the source untouched
    assert sorted(os.listdir(tmp_path)) == ["p2v.raw", "physical.raw"]


def test_p2v_warns_about_a_read_write_mount(tmp_path, loop):
    fs = mkfs_ext4(tmp_path / "fs.img", 8 * MiB, {"a": b"b"}, "mounted")
    dev = loop(fs)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", dev, mnt], capture_output=True).returncode != 0:
        pytest.skip("cannot mount here")
    try:
        r = ferry("p2v", "--source", dev, "--out", tmp_path / "out.qcow2", "--no-fixup")
        assert f"{dev} is mounted read-write at {mnt}" in r.stderr
        r = ferry("v2p", tmp_path / "out.qcow2", "--target", dev, check=False)
        assert r.returncode == 1 and "unmount it first" in r.stderr
    finally:
        subprocess.run(["umount", mnt], check=False)


def test_v2p_refuses_existing_file_without_force(tmp_path):
    img = tmp_path / "img.qcow2"
    qemu_img("create", "-f", "qcow2", img, "1M")
    existing = tmp_path / "existing.raw"
    existing.write_bytes(b"keep")
    r = ferry("v2p", img, "--target", existing, check=False)
    assert r.returncode == 1 and "--force" in r.stderr
    assert existing.read_bytes() == b"keep"
    r = ferry("v2p", img, "--target", tmp_path / "new.raw", "--verify")
    assert (tmp_path / "new.raw").stat().st_size == MiB


def test_interrupted_p2v_resumes(tmp_path, loop):
    import random
    import signal
    import time
    src_file = tmp_path / "big.raw"
    rng = random.Random(3)
    with open(src_file, "wb") as f:
        for _ in range(48):
            f.write(rng.randbytes(4 * MiB))
    source = loop(src_file)
    out = tmp_path / "big.qcow2"
    ckpt = tmp_path / ".big.qcow2.ferry-part.ckpt"
    cmd = [str(ferry_bin()), "p2v", "--source", source, "--out", str(out), "--no-fixup",
           "--checkpoint-interval", "0.02"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not ckpt.exists() and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if out.exists():
        pytest.skip("the p2v finished before it could be interrupted")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "resumed at" in r.stdout
    assert qemu_img("compare", "-F", "raw", out, src_file).returncode == 0
    assert not ckpt.exists()
