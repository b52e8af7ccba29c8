"""Snapshot and restore: the guest goes on where it stopped, its memory intact."""
import re
import struct
import time

import pytest

import ferrystate as fs
from conftest import FERRY, Guest, ferry

DIRTIER = "dirtier --size 128M --rate 100M --duration 5 --heartbeat-ms 20 --sweep-ms 500"


def last_heartbeat(guest):
    ts, m = guest.matching(r"^hb cpu=0 seq=(\d+) t_us=(\d+)$")[-1]
    return int(m.group(1)), int(m.group(2))


def restore(directory, *extra):
    return Guest([str(FERRY), "restore", str(directory), *map(str, extra)])


@pytest.fixture
def snapshot(run_vm, tmp_path):
    """A snapshot of a dirtier that ran for a while: (dir, last seq, last t_us, wall time)."""
    api = tmp_path / "vm.sock"
    g = run_vm(DIRTIER, memory="512M", api=api)
    g.wait_for(r"^hb cpu=0 seq=60 ")
    r = ferry("snapshot", "--api", api, "--out", tmp_path / "snap")
    assert r.returncode == 0, r.stderr
    taken = time.monotonic()
    assert "snapshot saved to" in r.stdout
    assert g.wait() == 0
    seq, t_us = last_heartbeat(g)
    return tmp_path / "snap", seq, t_us, taken


@pytest.mark.sanitizer
def test_restore_goes_on_with_memory_and_clock(snapshot):
    directory, seq, t_us, taken = snapshot
    time.sleep(1.0)
    g = restore(directory)
    resumed = time.monotonic()
    m = g.wait_for(r"^hb cpu=0 seq=(\d+) t_us=(\d+)$")
    # The very next heartbeat (or the one after, when the line in flight at the
    # snapshot was cut): nothing replayed, nothing lost.
    assert int(m.group(1)) in (seq + 1, seq + 2)
    # Guest time moved on by about the time the VM spent saved, not more, not less.
    guest_gap = (int(m.group(2)) - t_us) / 1e6
    assert (resumed - taken) - 0.3 < guest_gap < (resumed - taken) + 1.5, guest_gap
    assert g.wait() == 0, g.text()[-1500:]
    assert re.search(r"^dirtier: PASS cpu=0 ", g.text(), re.M)
    assert "ready in" in g.stderr


def test_one_snapshot_restores_twice(snapshot):
    directory = snapshot[0]
    for _ in range(2):
        g = restore(directory, "--console", "stdio")
        assert g.wait() == 0
        assert re.search(r"^dirtier: PASS cpu=0 ", g.text(), re.M)


def corrupt_and_restore(directory, mutate):
    state = directory / "state"
    data = bytearray(state.read_bytes())
    mutate(data)
    state.write_bytes(bytes(data))
    r = ferry("restore", directory)
    assert r.returncode == 240, r.stdout[-500:]
    assert r.stdout == "", "a corrupt snapshot must not start the guest"
    return r.stderr.strip()


def test_every_kind_of_section_detects_a_flipped_byte(snapshot, tmp_path):
    directory = snapshot[0]
    pristine = (directory / "state").read_bytes()
    names = {fs.MACHINE: "machine", fs.VCPU: "vcpu", fs.IRQCHIP: "irqchip", fs.PIT: "pit",
             fs.CLOCK: "clock", fs.SERIAL: "serial", fs.MEMORY_FILE: "memory-file"}
    for offset, type_, _, payload in fs.split(pristine):
        if type_ == fs.END:
            continue
        (directory / "state").write_bytes(pristine)

        def flip(data, at=offset + 24 + len(payload) // 2):
            data[at] ^= 0x01
        message = corrupt_and_restore(directory, flip)
        assert f"'{names[type_]}'" in message and "corrupt" in message, message
        assert len(message.splitlines()) == 1


def test_truncated_state_and_memory_are_refused(snapshot):
    directory = snapshot[0]
    pristine = (directory / "state").read_bytes()
    message = corrupt_and_restore(directory, lambda d: d.__delitem__(slice(len(d) // 2, None)))
    assert "ends early" in message or "truncated" in message
    (directory / "state").write_bytes(pristine)
    with open(directory / "memory", "r+b") as memory:
        memory.truncate(1 << 20)
    r = ferry("restore", directory)
    assert r.returncode == 240 and "memory image" in r.stderr and "truncated" in r.stderr


def test_missing_cpu_feature_is_refused_by_name(snapshot):
    directory = snapshot[0]
    sections = [(t, i, p) for _, t, i, p in fs.split((directory / "state").read_bytes())]
    machine = fs.parse_fields(sections[0][2])
    cpuid = bytearray(machine[4])
    for at in range(0, len(cpuid), 40):
        function, index = struct.unpack_from("<II", cpuid, at)
        if function == 7 and index == 0:
            ebx = struct.unpack_from("<I", cpuid, at + 16)[0]
            struct.pack_into("<I", cpuid, at + 16, ebx | (1 << 16))  # avx512f
    machine[4] = bytes(cpuid)
    sections[0] = (fs.MACHINE, 0, fs.fields(sorted(machine.items())))
    (directory / "state").write_bytes(fs.rebuild(sections))
    r = ferry("restore", directory)
    assert r.returncode == 240
    assert "avx512f" in r.stderr and "CPU features" in r.stderr, r.stderr


@pytest.mark.sanitizer
def test_snapshot_with_resume_keeps_the_vm_running(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    g = run_vm(DIRTIER, memory="512M", api=api)
    g.wait_for(r"^hb cpu=0 seq=30 ")
    r = ferry("snapshot", "--api", api, "--out", tmp_path / "snap", "--resume", "--json")
    assert r.returncode == 0, r.stderr
    assert '"state":"running"' in r.stdout
    # A second snapshot into the same place is refused and the VM goes on.
    again = ferry("snapshot", "--api", api, "--out", tmp_path / "snap", "--resume")
    assert again.returncode == 1 and "already holds a snapshot" in again.stderr
    assert g.wait() == 0
    assert re.search(r"^dirtier: PASS cpu=0 ", g.text(), re.M)
    restored = restore(tmp_path / "snap")
    assert restored.wait() == 0
    assert re.search(r"^dirtier: PASS cpu=0 ", restored.text(), re.M)


def test_restore_of_a_missing_snapshot(tmp_path):
    r = ferry("restore", tmp_path / "nothing")
    assert r.returncode == 240 and "holds no snapshot" in r.stderr
