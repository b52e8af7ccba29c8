"""Resumable convert: a convert killed halfway continues from its checkpoint
on the next run of the same command, and a leftover that cannot be resumed
is refused (never overwritten) unless --force."""

import os
import random
import signal
import subprocess
import time

import pytest

from image_helpers import MiB, ferry, ferry_bin, have_qemu_img, qemu_img, same_bytes

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing")]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """96 MiB: random (incompressible) and text (compressible) stretches and a
    hole, so that a compressed qcow2 convert takes a couple of seconds."""
    path = tmp_path_factory.mktemp("resume") / "src.raw"
    rng = random.Random(5)
    with open(path, "wb") as f:
        for i in range(12):
            f.write(rng.randbytes(4 * MiB))
            f.write(b"".join(b"resumable line %010d\n" % (i * 200000 + j)
                             for j in range(4 * MiB // 26)).ljust(4 * MiB, b"\0")[:4 * MiB])
        f.truncate(100 * MiB)
    return path


def convert_args(src, out, *extra):
    return [str(ferry_bin()), "image", "convert", "-O", "qcow2", "-c", "-m", "1",
            "--checkpoint-interval", "0.2", *extra, str(src), str(out)]


def kill_after_checkpoint(src, out):
    """Starts the convert and SIGKILLs it once a checkpoint exists (and the
    copy is not finished); returns the checkpoint path."""
    ckpt = out.parent / f".{out.name}.ferry-part.ckpt"
    proc = subprocess.Popen(convert_args(src, out), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)
    assert proc.poll() is None, "the convert finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out.exists()
    return ckpt


def test_killed_convert_resumes(tmp_path, source):
    out = tmp_path / "out.qcow2"
    ckpt = kill_after_checkpoint(source, out)
    part = tmp_path / ".out.qcow2.ferry-part"
    r = subprocess.run(convert_args(source, out), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "resumed" in r.stderr and "resumed out.qcow2 at 0 B" not in r.stderr
    assert not part.exists() and not ckpt.exists()
    assert qemu_img("check", out).returncode == 0
    assert qemu_img("compare", "-F", "raw", out, source).returncode == 0
    # Compressed clusters were written in both runs.
    assert "compressed" in qemu_img("check", out).stdout


def test_changed_source_is_not_resumed(tmp_path, source):
    src = tmp_path / "src.raw"
    subprocess.run(["cp", "--sparse=always", source, src], check=True)
    out = tmp_path / "out.qcow2"
    kill_after_checkpoint(src, out)
    part = tmp_path / ".out.qcow2.ferry-part"
    with open(src, "r+b") as f:
        f.seek(MiB)
        f.write(b"changed")
    r = subprocess.run(convert_args(src, out), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "different or changed source" in r.stderr and "--force" in r.stderr
    assert part.exists() and not out.exists()  # the leftover is kept
    r = subprocess.run(convert_args(src, out, "--force"), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "resumed" not in r.stderr
    assert qemu_img("compare", "-F", "raw", out, src).returncode == 0
    assert not part.exists()


def test_leftover_without_checkpoint_refused(tmp_path, source):
    out = tmp_path / "out.raw"
    part = tmp_path / ".out.raw.ferry-part"
    part.write_bytes(b"half")
    r = ferry("convert", source, out, check=False)
    assert r.returncode == 1 and "cannot be resumed" in r.stderr
    assert part.read_bytes() == b"half"
    ferry("convert", "--force", source, out)
    assert same_bytes(source, out)


def test_damaged_checkpoint_refused(tmp_path, source):
    out = tmp_path / "out.qcow2"
    ckpt = kill_after_checkpoint(source, out)
    data = bytearray(ckpt.read_bytes())
    data[40] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    r = subprocess.run(convert_args(source, out), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "checksum mismatch" in r.stderr
    assert not out.exists()


def test_completed_convert_leaves_no_checkpoint(tmp_path, source):
    out = tmp_path / "out.raw"
    ferry("convert", "--checkpoint-interval", "0.01", source, out)
    assert sorted(os.listdir(tmp_path)) == ["out.raw"]
    assert same_bytes(source, out)
