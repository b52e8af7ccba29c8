"""virtio-blk and virtio-rng on the host side: --disk checks, the image lock,
the device state in snapshots and the device set in migration streams. Guest
I/O end to end comes with the guest kit's virtio drivers."""
import pathlib
import socket
import time

import pytest

import ferrystate as fs
from conftest import FERRY, Guest, ferry

BLOCK, RNG = 2, 4


def image(tmp_path, name="disk.img", size=8 << 20):
    path = tmp_path / name
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def run_hello(ferry_bin, guest_elf, *extra):
    return ferry("run", "--kernel", guest_elf, "--cmdline", "hello", "--memory", "64M", *extra)


@pytest.mark.kvm
@pytest.mark.sanitizer
def test_hello_runs_with_disks_and_rng(ferry_bin, guest_elf, tmp_path):
    r = run_hello(ferry_bin, guest_elf, "--disk", image(tmp_path, "a.img"),
                  "--disk", f"{image(tmp_path, 'b.img')},readonly,serial=b", "--rng")
    assert r.returncode == 0, r.stderr
    assert "hello from ferry-guest" in r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.img", "no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: image(d, "empty.img", 0), "is empty"),
    (lambda d: image(d, "odd.img", 1000), "not a multiple of 512"),
])
def test_bad_disks_are_one_clear_line(ferry_bin, guest_elf, tmp_path, make, message):
    path = make(tmp_path)
    r = run_hello(ferry_bin, guest_elf, "--disk", path)
    assert r.returncode == 240
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], r.stderr


def test_bad_disk_settings_are_refused(ferry_bin, guest_elf, tmp_path):
    r = run_hello(ferry_bin, guest_elf, "--disk", f"{image(tmp_path)},rw")
    assert r.returncode == 240 and "unknown setting 'rw'" in r.stderr


def test_the_lock_keeps_a_second_vm_off_the_image(run_vm, ferry_bin, guest_elf, tmp_path):
    disk = image(tmp_path)
    first = run_vm("idle --duration 20 --heartbeat-ms 100", memory="64M", extra=["--disk", disk])
    first.wait_for(r"^hb cpu=0 seq=1 ")
    for spec in (str(disk), f"{disk},readonly"):
        r = run_hello(ferry_bin, guest_elf, "--disk", spec)
        assert r.returncode == 240, r.stdout
        assert r.stderr.strip() == (f"ferry run: --disk {disk} is locked by another process "
                                    "(is another VM using it?)")
    first.kill()
    # Once the first VM is gone the image is free again.
    assert run_hello(ferry_bin, guest_elf, "--disk", disk).returncode == 0


def test_read_only_users_share_an_image(run_vm, ferry_bin, guest_elf, tmp_path):
    disk = image(tmp_path)
    first = run_vm("idle --duration 20 --heartbeat-ms 100", memory="64M",
                   extra=["--disk", f"{disk},readonly"])
    first.wait_for(r"^hb cpu=0 seq=1 ")
    assert run_hello(ferry_bin, guest_elf, "--disk", f"{disk},readonly").returncode == 0
    first.kill()


@pytest.fixture
def snapshot_with_devices(run_vm, tmp_path):
    disk = image(tmp_path)
    api = tmp_path / "vm.sock"
    g = run_vm("idle --duration 4 --heartbeat-ms 20", memory="64M", api=api,
               extra=["--disk", disk, "--rng"])
    g.wait_for(r"^hb cpu=0 seq=10 ")
    r = ferry("snapshot", "--api", api, "--out", tmp_path / "snap")
    assert r.returncode == 0, r.stderr
    assert g.wait() == 0
    return tmp_path / "snap", disk


def test_snapshot_carries_the_device_sections(snapshot_with_devices):
    directory, _ = snapshot_with_devices
    sections = fs.split((directory / "state").read_bytes())
    machine = [p for _, t, _, p in sections if t == fs.MACHINE][0]
    assert fs.machine_devices(machine) == [(BLOCK, 0), (RNG, 0)]
    virtio = sorted((t, i) for _, t, i, _ in sections if t in (fs.VIRTIO_PCI, fs.VIRTIO_BLK))
    assert virtio == [(fs.VIRTIO_PCI, 0), (fs.VIRTIO_PCI, 1), (fs.VIRTIO_BLK, 0)]
    pci = [p for _, t, i, p in sections if t == fs.VIRTIO_PCI and i == 0][0]
    fields = fs.parse_fields(pci)
    assert int.from_bytes(fields[1], "little") == BLOCK
    config = fields[2]
    assert len(config) == 256 and config[0:4] == bytes.fromhex("f41a4210")  # 1af4:1042


def test_restore_needs_the_same_disks(snapshot_with_devices, tmp_path):
    directory, disk = snapshot_with_devices
    r = ferry("restore", directory)
    assert r.returncode == 240 and "has 1 disk(s) but 0 --disk given" in r.stderr
    r = ferry("restore", directory, "--disk", f"{disk},readonly")
    assert r.returncode == 240 and "read-write" in r.stderr
    small = image(tmp_path, "small.img", 4 << 20)
    r = ferry("restore", directory, "--disk", small)
    assert r.returncode == 240 and "sectors" in r.stderr
    g = Guest([str(FERRY), "restore", str(directory), "--disk", str(disk)])
    assert g.wait(timeout=60) == 0, g.stderr
    assert "idle: PASS" in g.text()


def test_corrupt_device_sections_are_refused(snapshot_with_devices):
    directory, disk = snapshot_with_devices
    state = directory / "state"
    sections = [(t, i, p) for _, t, i, p in fs.split(state.read_bytes())]
    # A virtio-pci section whose device type disagrees with the machine's list,
    # with a valid CRC: the loader must check the contents, not just the CRC.
    changed = []
    for t, i, p in sections:
        if t == fs.VIRTIO_PCI and i == 1:
            f = fs.parse_fields(p)
            f[1] = (BLOCK).to_bytes(4, "little")
            p = fs.fields(sorted(f.items()))
        changed.append((t, i, p))
    state.write_bytes(fs.rebuild(changed))
    r = ferry("restore", directory, "--disk", disk)
    assert r.returncode == 240 and "virtio-pci" in r.stderr, r.stderr
    # A section the machine does not list.
    state.write_bytes(fs.rebuild(sections[:-1] + [(fs.VIRTIO_BLK, 1, b"")] + sections[-1:]))
    r = ferry("restore", directory, "--disk", disk)
    assert r.returncode == 240 and "virtio-blk" in r.stderr, r.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_receiver_without_the_disks_refuses_and_the_source_goes_on(run_vm, tmp_path):
    disk = image(tmp_path)
    api = tmp_path / "src.sock"
    src = run_vm("idle --duration 30 --heartbeat-ms 20", memory="64M", api=api,
                 extra=["--disk", disk, "--rng"])
    src.wait_for(r"^hb cpu=0 seq=5 ")
    port = free_port()
    dst = Guest([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}"])
    deadline = time.monotonic() + 10
    while "listening" not in dst.stderr_so_far() and time.monotonic() < deadline:
        time.sleep(0.02)
    # Without shared storage the receiver must be told where the copy goes.
    r = ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}", "--mode", "offline",
              "--copy-storage", timeout=60)
    assert r.returncode != 0
    assert "give ferry receive one --disk PATH for each" in r.stderr + r.stdout, r.stderr
    assert dst.wait() == 240
    seq = int(src.matching(r"^hb cpu=0 seq=(\d+) ")[-1][1].group(1))
    src.wait_for(rf"^hb cpu=0 seq={seq + 5} ")  # still running at the source


@pytest.mark.parametrize("mode", ["offline", "precopy"])
def test_shared_disk_moves_with_the_vm_on_one_host(run_vm, ferry_bin, guest_elf, tmp_path, mode):
    # The source flushes and unlocks its image just before `go`; the receiver,
    # which opened it without a lock, takes the lock before its vCPUs start.
    disk = image(tmp_path)
    api = tmp_path / "src.sock"
    src = run_vm("idle --duration 6 --heartbeat-ms 20", memory="64M", api=api,
                 extra=["--disk", disk, "--rng"])
    src.wait_for(r"^hb cpu=0 seq=5 ")
    port = free_port()
    dst = Guest([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}", "--disk", str(disk)])
    deadline = time.monotonic() + 10
    while "listening" not in dst.stderr_so_far() and time.monotonic() < deadline:
        time.sleep(0.02)
    r = ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}", "--mode", mode,
              timeout=60)
    assert r.returncode == 0, r.stderr
    assert src.wait() == 0
    dst.wait_for(r"^hb cpu=0 seq=\d+ ")
    # The destination holds the image now.
    third = run_hello(ferry_bin, guest_elf, "--disk", disk)
    assert third.returncode == 240 and "is another VM using it?" in third.stderr
    assert dst.wait(timeout=30) == 0
    assert "idle: PASS" in dst.text()
