"""Disks in migration: shared storage (the image lock changes hands at
switchover) and block migration (--copy-storage), where the disk streams
while the guest writes to it and the destination's copy ends bit-identical.
diskcheck verifies every block it reads at the destination, and a later
--verify-only run checks the whole image against the table it wrote."""
import hashlib
import json
import os
import re
import time

import pytest

from conftest import ferry
from test_offline_migration import free_port, receiver
from test_precopy import in_background, migrate

DISK_MIB = 128


def make_disk(path, mib=DISK_MIB):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_only(run_vm, disk):
    g = run_vm("diskcheck --verify-only --heartbeat-ms 50", extra=("--disk", disk))
    assert g.wait(60) == 0, g.text()[-1500:] + g.stderr
    assert re.search(r"^diskcheck: PASS mode=verify-only", g.text(), re.M), g.text()[-800:]


def start_writer(run_vm, tmp_path, disk, cmdline):
    api = tmp_path / "src.sock"
    g = run_vm(cmdline, memory="256M", api=api, extra=("--disk", disk))
    g.wait_for(r"^diskcheck: prepared")
    g.wait_for(r"^hb cpu=0 seq=20 ")
    return g, api


@pytest.mark.sanitizer
def test_shared_storage_hands_the_image_over(run_vm, tmp_path):
    disk = make_disk(tmp_path / "shared.img")
    src, api = start_writer(run_vm, tmp_path, disk,
                            "diskcheck --size 32M --rate 8M --duration 4 --heartbeat-ms 10 "
                            "--sweep-ms 300")
    port = free_port()
    dst = receiver(port)  # no --disk: the same path as the source
    r = migrate(api, port, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert [d["mode"] for d in report["disks"]] == ["shared"]
    assert src.wait() == 0
    assert dst.wait(60) == 0, dst.text()[-1500:] + dst.stderr
    assert re.search(r"^diskcheck: PASS blocks=", dst.text(), re.M)
    verify_only(run_vm, disk)


def test_copy_storage_ends_bit_identical(run_vm, tmp_path):
    source_disk = make_disk(tmp_path / "source.img", 192)
    with open(source_disk, "r+b") as f:  # data beyond diskcheck's area: a long bulk pass
        f.seek(96 << 20)
        f.write(os.urandom(96 << 20))
    target_disk = tmp_path / "target.img"
    # diskcheck writes for 2 s, into chunks the bulk pass copied first, checks
    # everything and rests; the bulk pass alone takes over 6 s at 16 MiB/s, so
    # the switchover comes once the disk is at rest and the images can be compared.
    src, api = start_writer(run_vm, tmp_path, source_disk,
                            "diskcheck --size 48M --rate 16M --duration 2 --linger forever "
                            "--heartbeat-ms 10 --sweep-ms 300")
    port = free_port()
    dst = receiver(port, "--disk", target_disk, "--api", tmp_path / "dst.sock")
    r = migrate(api, port, "--copy-storage", "--bandwidth", "16M", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    (d,) = report["disks"]
    assert d["mode"] == "copy" and d["chunks_data"] > 0, d
    assert d["dirty_chunks"] > 0, "the guest wrote during the copy"
    # The writing ended (and verified itself) before the switchover.
    assert re.search(r"^diskcheck: PASS blocks=", src.text(), re.M), src.text()[-800:]
    assert src.wait() == 0
    dst.wait_for(r"^hb cpu=0 ", timeout=30)  # it runs on at the destination
    assert sha256(source_disk) == sha256(target_disk), report
    assert not os.path.exists(str(target_disk) + ".ferry-partial")
    ferry("stop", "--api", tmp_path / "dst.sock")
    dst.wait(30)
    verify_only(run_vm, target_disk)


def test_interrupted_copy_resumes(run_vm, tmp_path):
    source_disk = make_disk(tmp_path / "source.img", 192)
    with open(source_disk, "r+b") as f:
        f.seek(128 << 20)
        f.write(os.urandom(64 << 20))
    target_disk = tmp_path / "target.img"
    src, api = start_writer(run_vm, tmp_path, source_disk,
                            "diskcheck --size 32M --rate max --duration 1 --linger forever "
                            "--heartbeat-ms 20 --sweep-ms 0")
    src.wait_for(r"^diskcheck: PASS blocks=", timeout=60)
    port = free_port()
    dst = receiver(port, "--disk", target_disk)
    # A slow copy (about 5 s), cut in the middle: the receiver keeps what arrived.
    t, result = in_background(lambda: migrate(api, port, "--copy-storage", "--bandwidth", "16M"))
    time.sleep(2.5)
    assert ferry("migrate", "--api", api, "--cancel").returncode == 0
    t.join()
    assert result["r"].returncode == 1
    assert dst.wait(30) == 240
    assert os.path.exists(str(target_disk) + ".ferry-partial")

    port = free_port()
    dst = receiver(port, "--disk", target_disk, "--api", tmp_path / "dst.sock")
    r = migrate(api, port, "--copy-storage", "--json")
    assert r.returncode == 0, r.stderr
    (d,) = json.loads(r.stdout)["disks"]
    assert d["resumed"] and d["chunks_resumed"] > 100, d
    assert sha256(source_disk) == sha256(target_disk)
    assert src.wait() == 0
    ferry("stop", "--api", tmp_path / "dst.sock")
    dst.wait(30)
    verify_only(run_vm, target_disk)


def test_unfinished_copy_does_not_boot(run_vm, tmp_path):
    disk = make_disk(tmp_path / "half.img")
    (tmp_path / "half.img.ferry-partial").write_bytes(b"FERRYDCP")
    g = run_vm("hello", extra=("--disk", disk))
    assert g.wait() == 240
    assert "unfinished" in g.stderr and "ferry migrate" in g.stderr, g.stderr
