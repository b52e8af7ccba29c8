"""Offline migration between two ferry processes over TCP loopback, and what
happens when either side fails: the VM ends up running in exactly one place."""
import json
import re
import socket
import struct
import threading
import time

import pytest

import ferrystate as fs
from conftest import FERRY, Guest, ferry

DIRTIER = "dirtier --size 128M --rate 100M --duration 5 --heartbeat-ms 20 --sweep-ms 500"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def receiver(port, *extra):
    g = Guest([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}", *map(str, extra)])
    deadline = time.monotonic() + 10
    while "listening" not in g.stderr_so_far() and time.monotonic() < deadline:
        time.sleep(0.02)
    return g


@pytest.fixture
def source(run_vm, tmp_path):
    api = tmp_path / "src.sock"
    g = run_vm(DIRTIER, memory="512M", api=api)
    g.wait_for(r"^hb cpu=0 seq=40 ")
    return g, api


@pytest.mark.sanitizer
def test_offline_migration_moves_a_verified_guest(source, tmp_path):
    src, api = source
    port = free_port()
    dst = receiver(port, "--api", tmp_path / "dst.sock")
    r = ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}", "--mode", "offline",
              "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["status"] == "completed" and report["mode"] == "offline"
    for field in ("total_ms", "downtime_ms", "setup_ms", "bytes_sent", "pages_normal",
                  "pages_zero", "downtime_clock", "transfer_ms"):
        assert field in report, field
    assert report["pages_normal"] > 10000  # the pages the dirtier had written by now
    assert 0 < report["downtime_ms"] < report["total_ms"] + 1
    assert src.wait() == 0  # the source released the VM
    last_seq = int(src.matching(r"^hb cpu=0 seq=(\d+) t_us=\d+$")[-1][1].group(1))
    m = dst.wait_for(r"^hb cpu=0 seq=(\d+) t_us=\d+$")
    # The next heartbeat; or the one after when the line in flight at the
    # switch was split between the two consoles.
    assert int(m.group(1)) in (last_seq + 1, last_seq + 2)
    assert dst.wait() == 0, dst.text()[-1500:] + dst.stderr
    assert re.search(r"^dirtier: PASS cpu=0 ", dst.text(), re.M)
    assert not re.search(r"^dirtier: (PASS|FAIL)", src.text(), re.M)


def test_human_report(source):
    src, api = source
    port = free_port()
    dst = receiver(port, "--console", "none")
    r = ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}", "--mode", "offline",
              timeout=120)
    assert r.returncode == 0, r.stderr
    for word in ("downtime", "total", "MiB", "normal"):
        assert word in r.stdout
    assert src.wait() == 0
    dst.signal()
    dst.wait()


def test_nothing_listening_leaves_the_vm_running(source):
    src, api = source
    r = ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{free_port()}")
    assert r.returncode == 1
    assert "the VM goes on here" in r.stderr and "connect" in r.stderr
    assert json.loads(ferry("status", "--api", api, "--json").stdout)["state"] == "running"
    assert src.wait() == 0
    assert re.search(r"^dirtier: PASS cpu=0 ", src.text(), re.M)


class FakeDestination:
    """Accepts the stream, then refuses or vanishes at a chosen point."""

    def __init__(self, behaviour):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.behaviour = behaviour
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.listener.accept()
        conn.recv(32)
        fs.read_section(conn)  # machine configuration
        if self.behaviour == "refuse":
            conn.sendall(fs.section(fs.REFUSE, fs.fields([(2, b"not today")])))
        else:
            conn.sendall(fs.section(fs.ACCEPT, fs.fields([(1, struct.pack("<q", time.monotonic_ns()))])))
            received = 0
            while received < 8 << 20:  # die in the middle of the memory
                received += len(conn.recv(1 << 20))
        conn.close()


@pytest.mark.parametrize("behaviour", ["refuse", "die-mid-transfer"])
def test_failed_destination_resumes_the_vm_at_the_source(source, behaviour):
    src, api = source
    fake = FakeDestination(behaviour)
    r = ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{fake.port}", timeout=60)
    assert r.returncode == 1
    assert "the VM goes on here" in r.stderr
    if behaviour == "refuse":
        assert "not today" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    seq = int(src.matching(r"^hb cpu=0 seq=(\d+) ")[-1][1].group(1))
    src.wait_for(rf"^hb cpu=0 seq={seq + 5} ")  # still running here
    assert src.wait() == 0
    assert re.search(r"^dirtier: PASS cpu=0 ", src.text(), re.M)


def test_real_destination_killed_mid_transfer(source):
    src, api = source
    port = free_port()
    dst = receiver(port)
    result = {}
    # Offline, capped at 32 MiB/s: the transfer takes seconds, the guest is paused.
    t = threading.Thread(target=lambda: result.update(
        r=ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}", "--mode", "offline",
                "--bandwidth", "32M", timeout=60)))
    t.start()
    time.sleep(0.8)
    assert t.is_alive()
    dst.kill()
    t.join()
    r = result["r"]
    assert r.returncode == 1
    assert "the VM goes on here" in r.stderr
    assert src.wait() == 0
    assert re.search(r"^dirtier: PASS cpu=0 ", src.text(), re.M)
    assert not re.search(r"^hb ", dst.text(), re.M)


@pytest.mark.kvm
def test_source_dies_mid_transfer_nothing_runs(tmp_path):
    port = free_port()
    dst = receiver(port)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(fs.file_header())
    machine = fs.fields([(1, struct.pack("<Q", 64 << 20)), (2, struct.pack("<I", 1)),
                         (3, b"dirtier"), (4, b"")])
    sock.sendall(fs.section(fs.MACHINE, machine))
    assert fs.read_section(sock)[0] == fs.ACCEPT
    page = b"\xab" * 4096
    batch = struct.pack("<II", 1, 0) + struct.pack("<Q", (300 << 8) | 0) + page
    sock.sendall(fs.section(fs.PAGES, batch))
    sock.close()  # the source vanishes before devices and the end
    assert dst.wait(timeout=30) == 240
    assert "nothing was started" in dst.stderr
    assert dst.text() == ""


@pytest.mark.kvm
def test_corrupt_stream_is_refused(tmp_path):
    port = free_port()
    dst = receiver(port)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(fs.file_header())
    machine = fs.fields([(1, struct.pack("<Q", 64 << 20)), (2, struct.pack("<I", 1)),
                         (3, b""), (4, b"")])
    data = bytearray(fs.section(fs.MACHINE, machine))
    data[-3] ^= 0xFF
    sock.sendall(bytes(data))
    assert dst.wait(timeout=30) == 240
    assert "'machine'" in dst.stderr and "corrupt" in dst.stderr
    sock.close()
