"""Resumable VMDK and VHD converts, v2p and p2v with fix-ups: each is killed
halfway (SIGKILL at a fault point, as a crash would: FERRY_FAULT), run again,
and must say that it resumed at a non-zero offset and produce exactly what an
uninterrupted run would; a leftover from a changed source is refused."""

import os
import random
import re
import shutil
import subprocess

import pytest

from image_helpers import (MiB, build_disk, debugfs_cat, ferry_bin, have_qemu_img, mkfs_ext4,
                           qemu_img, same_bytes)

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing")]

FSTAB = b"/dev/sda1 / ext4 defaults 0 1\n/dev/sda2 /data ext4 defaults 0 2\n"


def run(args, fault=None, env=None):
    e = dict(os.environ, **(env or {}))
    e.pop("FERRY_FAULT", None)
    if fault:
        e["FERRY_FAULT"] = fault
    return subprocess.run([str(ferry_bin()), *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=e)


def killed(r):
    assert r.returncode == -9, f"expected a SIGKILL, got {r.returncode}: {r.stderr}"


def resumed_offset(stderr, name):
    """The N of "resumed NAME at N of SIZE", in bytes."""
    m = re.search(r"resumed (\S+) at (\S+) (\w+) of", stderr)
    assert m, stderr
    assert m.group(1).endswith(name), stderr
    units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    return float(m.group(2)) * units[m.group(3)]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """64 MiB: random and compressible stretches and a hole."""
    path = tmp_path_factory.mktemp("resume_more") / "src.raw"
    rng = random.Random(11)
    with open(path, "wb") as f:
        for i in range(7):
            f.write(rng.randbytes(4 * MiB))
            f.write(b"".join(b"more resumable line %010d\n" % (i * 200000 + j)
                             for j in range(4 * MiB // 31)).ljust(4 * MiB, b"\0")[:4 * MiB])
        f.truncate(64 * MiB)
    return path


# --- convert: VMDK and VHD outputs -------------------------------------------------------------

def convert_args(fmt, sub, source, out):
    # -t unsafe: checkpoints do not wait for the disk, so that even a fast
    # copy passes several of them before it ends.
    return ["image", "convert", "-O", fmt, "-o", f"subformat={sub}", "-m", "1", "-t", "unsafe",
            "--checkpoint-interval", "0.001", source, out]


@pytest.mark.parametrize("fmt,sub", [("vmdk", "monolithicSparse"), ("vmdk", "streamOptimized"),
                                     ("vpc", "dynamic"), ("vpc", "fixed")])
def test_vmdk_vhd_convert_resumes(tmp_path, source, fmt, sub):
    out = tmp_path / f"out.{fmt}"
    args = convert_args(fmt, sub, source, out)
    killed(run(args, fault="kill-before-checkpoint-3"))
    part = tmp_path / f".out.{fmt}.ferry-part"
    assert part.exists() and (tmp_path / f".out.{fmt}.ferry-part.ckpt").exists()
    assert not out.exists()
    r = run(args)
    assert r.returncode == 0, r.stderr
    assert resumed_offset(r.stderr, out.name) > 0
    assert sorted(os.listdir(tmp_path)) == [out.name]
    assert qemu_img("compare", "-f", fmt, "-F", "raw", out, source).returncode == 0
    if fmt == "vmdk":
        assert qemu_img("check", "-f", "vmdk", out).returncode == 0
    info = qemu_img("info", "--output=json", "-f", fmt, out).stdout
    assert '"virtual-size": %d' % (64 * MiB) in info


def test_vmdk_stream_resumes_in_order(tmp_path, source):
    """Killed when a checkpoint is due (grains appended since the last one
    are in the file), the rerun goes on in order from the last checkpointed
    grain: the result is byte for byte what an uninterrupted run writes,
    apart from the descriptor's random CID."""
    out = tmp_path / "s.vmdk"
    args = convert_args("vmdk", "streamOptimized", source, out)
    killed(run(args, fault="kill-before-checkpoint-4"))
    r = run(args)
    assert r.returncode == 0 and resumed_offset(r.stderr, "s.vmdk") > 0, r.stderr
    clean = tmp_path / "clean.vmdk"
    assert run(args[:-1] + [clean]).returncode == 0
    descriptor_end = 21 * 512
    a, b = out.read_bytes(), clean.read_bytes()
    assert len(a) == len(b) and a[:512] == b[:512] and a[descriptor_end:] == b[descriptor_end:]


# --- v2p ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def image(source, tmp_path_factory):
    img = tmp_path_factory.mktemp("v2p_img") / "img.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", source, img)
    return img


# v2p and p2v copy fast and flush at every checkpoint: killed right after the
# first checkpoint, not when the second is due, so that the kill does not
# depend on how many checkpoints a fast copy has time for.
def v2p_args(img, target, *extra):
    return ["v2p", img, "--target", target, "--checkpoint-interval", "0.001", *extra]


def test_v2p_onto_new_file_resumes(tmp_path, image, source):
    target = tmp_path / "disk.raw"
    ckpt = tmp_path / ".disk.raw.ferry-v2p.ckpt"
    killed(run(v2p_args(image, target), fault="kill-after-checkpoint-1"))
    assert ckpt.exists()
    r = run(v2p_args(image, target, "--verify"))  # the same command, no --force needed
    assert r.returncode == 0, r.stderr
    assert resumed_offset(r.stderr, "disk.raw") > 0
    assert "verified" in r.stdout
    assert not ckpt.exists()
    assert same_bytes(target, source)


def test_v2p_onto_dirty_file_resumes(tmp_path, image, source):
    target = tmp_path / "dirty.raw"
    with open(target, "wb") as f:
        f.write(b"\xaa" * (64 * MiB + MiB))
        os.fsync(f.fileno())  # else the first checkpoint's flush writes it all
    killed(run(v2p_args(image, target, "--force"), fault="kill-after-checkpoint-1"))
    r = run(v2p_args(image, target, "--force", "--verify"))
    assert r.returncode == 0, r.stderr
    assert resumed_offset(r.stderr, "dirty.raw") > 0 and "zeros written" in r.stdout
    with open(target, "rb") as f:
        assert f.read(64 * MiB) == source.read_bytes()
        assert f.read() == b"\xaa" * MiB  # past the image's end: kept


def test_v2p_changed_source_refused(tmp_path, source):
    img = tmp_path / "img.raw"
    shutil.copyfile(source, img)
    target = tmp_path / "disk.raw"
    ckpt = tmp_path / ".disk.raw.ferry-v2p.ckpt"
    killed(run(v2p_args(img, target), fault="kill-after-checkpoint-1"))
    with open(img, "r+b") as f:
        f.seek(MiB)
        f.write(b"changed")
    r = run(v2p_args(img, target))
    assert r.returncode == 1
    assert "different or changed image" in r.stderr and "--force" in r.stderr
    assert ckpt.exists()  # the leftover is kept
    r = run(v2p_args(img, target, "--force", "--verify"))
    assert r.returncode == 0, r.stderr
    assert "resumed" not in r.stderr
    assert same_bytes(target, img) and not ckpt.exists()


def test_v2p_changed_target_refused(tmp_path, image):
    target = tmp_path / "disk.raw"
    killed(run(v2p_args(image, target), fault="kill-after-checkpoint-1"))
    shutil.copyfile(target, tmp_path / "other")
    os.replace(tmp_path / "other", target)  # same name, another file
    r = run(v2p_args(image, target))
    assert r.returncode == 1 and "changed target" in r.stderr


def can_loop():
    if os.geteuid() != 0 or not shutil.which("losetup"):
        return False
    return subprocess.run(["losetup", "-f"], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_loop(), reason="needs root and loop devices")
def test_v2p_onto_device_resumes(tmp_path, image, source):
    backing = tmp_path / "device.raw"
    with open(backing, "wb") as f:
        f.write(b"\x55" * (64 * MiB))
        os.fsync(f.fileno())
    dev = subprocess.run(["losetup", "-f", "--show", backing], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        state = {"FERRY_STATE_DIR": str(tmp_path / "state")}
        killed(run(v2p_args(image, dev), fault="kill-after-checkpoint-1", env=state))
        rdev = os.stat(dev).st_rdev
        ckpt = tmp_path / "state" / "v2p" / f"dev-{os.major(rdev)}-{os.minor(rdev)}.ckpt"
        assert ckpt.exists()
        r = run(v2p_args(image, dev, "--verify"), env=state)
        assert r.returncode == 0, r.stderr
        assert resumed_offset(r.stderr, dev) > 0 and "verified" in r.stdout
        assert not ckpt.exists()
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)
    assert same_bytes(backing, source)


# --- p2v with fix-ups --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def physical(tmp_path_factory):
    """An MBR disk: an ext4 root whose fstab names /dev/sdX, then 48 MiB of
    random data (so that the copy takes several checkpoints)."""
    d = tmp_path_factory.mktemp("p2v_src")
    root = mkfs_ext4(d / "root.img", 16 * MiB, {"etc/fstab": FSTAB}, "root")
    payload = random.Random(7).randbytes(48 * MiB)
    disk = d / "physical.raw"
    spans = build_disk(disk, [root.read_bytes(), payload], "mbr")
    root.unlink()
    return disk, spans


def p2v_args(disk, out, *extra):
    return ["p2v", "--source", disk, "--out", out, "--checkpoint-interval", "0.001", *extra]


def check_p2v_output(out, disk, spans, fmt):
    raw = out if fmt == "raw" else out.parent / "check.raw"
    if fmt != "raw":
        assert qemu_img("check", out).returncode == 0
        qemu_img("convert", "-f", fmt, "-O", "raw", out, raw)
    root, data = spans
    assert debugfs_cat(raw, root[0], "/etc/fstab") == FSTAB.replace(b"/dev/sd", b"/dev/vd")
    fsck = subprocess.run(["e2fsck", "-fn", f"{raw}?offset={root[0]}"], capture_output=True)
    if fsck.returncode != 0:  # older e2fsck without ?offset=: cut the filesystem out
        part = out.parent / "part.img"
        with open(raw, "rb") as f:
            f.seek(root[0])
            part.write_bytes(f.read(root[1]))
        fsck = subprocess.run(["e2fsck", "-fn", part], capture_output=True)
    assert fsck.returncode == 0, fsck.stdout
    with open(raw, "rb") as a, open(disk, "rb") as b:
        a.seek(data[0])
        b.seek(data[0])
        assert a.read(data[1]) == b.read(data[1])
        a.seek(0)
        b.seek(0)
        assert a.read(root[0]) == b.read(root[0])  # the partition table


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_p2v_fixup_resumes_copy(tmp_path, physical, fmt):
    disk, spans = physical
    out = tmp_path / f"p2v.{fmt}"
    args = p2v_args(disk, out, "-O", fmt)
    killed(run(args, fault="kill-after-checkpoint-1"))
    assert not out.exists()
    r = run(args)
    assert r.returncode == 0, r.stderr
    assert resumed_offset(r.stderr, out.name) > 0
    assert "/etc/fstab: 2 device name(s) rewritten" in r.stdout
    assert sorted(os.listdir(tmp_path)) == [out.name]
    check_p2v_output(out, disk, spans, fmt)


def test_p2v_interrupted_fixup_is_undone(tmp_path, physical):
    disk, spans = physical
    out = tmp_path / "p2v.qcow2"
    killed(run(p2v_args(disk, out), fault="p2v-after-fixup"))
    assert (tmp_path / ".p2v.qcow2.ferry-part.raw.undo").exists() and not out.exists()
    r = run(p2v_args(disk, out))
    assert r.returncode == 0, r.stderr
    assert "undid an interrupted fix-up" in r.stderr
    # Had the first run's changes stayed, there would be nothing left to rewrite.
    assert "/etc/fstab: 2 device name(s) rewritten" in r.stdout
    check_p2v_output(out, disk, spans, "qcow2")


def test_p2v_interrupted_conversion_restarts(tmp_path, physical):
    disk, spans = physical
    out = tmp_path / "p2v.qcow2"
    killed(run(p2v_args(disk, out), fault="p2v-in-convert"))
    assert (tmp_path / ".p2v.qcow2.ferry-part").exists() and not out.exists()
    r = run(p2v_args(disk, out))
    assert r.returncode == 0, r.stderr
    assert "/etc/fstab: 2 device name(s) rewritten" in r.stdout  # the saved report
    assert sorted(os.listdir(tmp_path)) == [out.name]
    check_p2v_output(out, disk, spans, "qcow2")


def test_p2v_fixup_changed_source_refused(tmp_path, physical):
    disk, _ = physical
    src = tmp_path / "src.raw"
    shutil.copyfile(disk, src)
    out = tmp_path / "p2v.qcow2"
    killed(run(p2v_args(src, out), fault="kill-after-checkpoint-1"))
    with open(src, "r+b") as f:
        f.seek(40 * MiB)
        f.write(b"changed")
    r = run(p2v_args(src, out))
    assert r.returncode == 1 and "--force" in r.stderr
    assert (tmp_path / ".p2v.qcow2.ferry-part.raw").exists() and not out.exists()
    r = run(p2v_args(src, out, "--force"))
    assert r.returncode == 0, r.stderr
    assert "resumed" not in r.stderr
    assert not (tmp_path / ".p2v.qcow2.ferry-part.raw").exists()
