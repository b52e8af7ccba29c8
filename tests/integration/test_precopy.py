"""Live migration by pre-copy: the guest keeps running while memory moves, its
own verification passes at the destination, and every failure leaves it
running in exactly one place."""
import json
import re
import socket
import threading
import time

import pytest

from conftest import FERRY, Guest, ferry
from test_offline_migration import free_port, receiver


def migrate(api, port, *extra, timeout=120):
    return ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}", *extra,
                 timeout=timeout)


def start_source(run_vm, tmp_path, cmdline, cpus=1, name="src", extra=()):
    api = tmp_path / f"{name}.sock"
    g = run_vm(cmdline, cpus=cpus, memory="512M", api=api, extra=extra)
    g.wait_for(r"^hb cpu=0 seq=30 ")
    return g, api


def passed(guest, cpus=1):
    return {int(m.group(1)) for _, m in guest.matching(r"^dirtier: PASS cpu=(\d+)")} == set(range(cpus))


def in_background(fn):
    result = {}
    t = threading.Thread(target=lambda: result.update(r=fn()))
    t.start()
    return t, result


@pytest.mark.sanitizer
def test_idle_guest(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path, "idle --duration 4 --heartbeat-ms 10")
    port = free_port()
    dst = receiver(port)
    r = migrate(api, port, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["mode"] == "precopy" and report["converged"]
    assert report["rounds"][0]["pages_sent"] < 2000  # an idle guest has little to send
    assert src.wait() == 0
    assert dst.wait() == 0
    assert re.search(r"^idle: PASS cpu=0", dst.text(), re.M)


def test_dirtier_at_100_mib_s_verifies_at_the_destination(run_vm, tmp_path):
    src, api = start_source(
        run_vm, tmp_path, "dirtier --size 128M --rate 100M --duration 6 --heartbeat-ms 10")
    port = free_port()
    dst = receiver(port, "--api", tmp_path / "dst.sock")
    r = migrate(api, port, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    for field in ("status", "mode", "total_ms", "downtime_ms", "setup_ms", "bytes_sent",
                  "pages_normal", "pages_zero", "rounds", "throttle_pct", "converged", "reason"):
        assert field in report, field
    assert len(report["rounds"]) >= 2
    assert report["rounds"][-1]["pages_dirtied"] == 0  # the paused round
    assert "downtime target" in report["reason"] or "small final" in report["reason"]
    assert report["downtime_ms"] < report["total_ms"]
    assert src.wait() == 0
    # The dirtier goes on for seconds at the destination, verifying every page it rewrites.
    assert dst.wait() == 0, dst.text()[-1500:]
    assert passed(dst)
    assert not passed(src)


def test_dirty_ring_at_100_mib_s_verifies_at_the_destination(run_vm, tmp_path):
    src, api = start_source(
        run_vm, tmp_path, "dirtier --size 128M --rate 100M --duration 5 --heartbeat-ms 10",
        extra=("--dirty-tracking", "ring"))
    status = json.loads(ferry("status", "--api", api, "--json").stdout)
    assert status["dirty_tracking"] == "ring"
    port = free_port()
    dst = receiver(port, "--api", tmp_path / "dst.sock", "--dirty-tracking", "ring")
    r = migrate(api, port, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["dirty_tracking"] == "ring"
    assert len(report["rounds"]) >= 2 and report["rounds"][0]["pages_dirtied"] > 0
    assert all("collect_ms" in round for round in report["rounds"])
    dst_status = json.loads(ferry("status", "--api", tmp_path / "dst.sock", "--json").stdout)
    assert dst_status["dirty_tracking"] == "ring"
    assert src.wait() == 0
    assert dst.wait() == 0, dst.text()[-1500:]
    assert passed(dst)


def test_dirty_ring_full_exits_at_max_rate_lose_no_page(run_vm, tmp_path):
    # 256 entries per vCPU: the ring fills every ~1 ms of writing, so the vCPU
    # exits to be harvested again and again during the copy rounds.
    src, api = start_source(
        run_vm, tmp_path, "dirtier --size 64M --rate max --duration 4 --heartbeat-ms 10",
        cpus=2, extra=("--dirty-tracking", "ring:256"))
    port = free_port()
    dst = receiver(port)
    r = migrate(api, port, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["dirty_tracking"] == "ring" and report["ring_full_exits"] > 0, report
    assert src.wait() == 0
    assert dst.wait() == 0, dst.text()[-1500:]
    assert passed(dst, cpus=2)


def test_dirty_ring_second_migration_after_a_cancelled_one(run_vm, tmp_path):
    # The first migration leaves harvested-but-unreset entries behind; the
    # second must drain them and still lose nothing.
    src, api = start_source(
        run_vm, tmp_path, "dirtier --size 64M --rate 200M --duration 6 --heartbeat-ms 10",
        extra=("--dirty-tracking", "ring:1024"))
    port = free_port()
    dst = receiver(port)
    t, result = in_background(lambda: migrate(api, port, "--bandwidth", "16M"))
    time.sleep(0.8)
    assert ferry("migrate", "--api", api, "--cancel").returncode == 0
    t.join()
    assert result["r"].returncode == 1 and "cancelled" in result["r"].stderr
    assert dst.wait(timeout=30) == 240
    port = free_port()
    dst = receiver(port)
    r = migrate(api, port, "--json")
    assert r.returncode == 0, r.stderr
    assert src.wait() == 0
    assert dst.wait() == 0, dst.text()[-1500:]
    assert passed(dst)


def test_dirty_ring_option_is_checked(tmp_path):
    r = ferry("run", "--kernel", "/nonexistent", "--dirty-tracking", "ring:100")
    assert r.returncode == 240
    assert r.stderr.count("\n") == 1 and "power of two" in r.stderr


def test_two_vcpus(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 128M --rate 100M --duration 5 --heartbeat-ms 10", cpus=2)
    port = free_port()
    dst = receiver(port)
    r = migrate(api, port)
    assert r.returncode == 0, r.stderr
    assert src.wait() == 0
    assert dst.wait() == 0, dst.text()[-1500:]
    assert passed(dst, cpus=2)


def test_bandwidth_cap_is_honoured(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 96M --rate 200M --duration forever --heartbeat-ms 20")
    src.wait_for(r"^hb cpu=0 seq=80 ")  # the whole working set is written by now
    port = free_port()
    dst = receiver(port, "--console", "none")
    r = migrate(api, port, "--bandwidth", "64M", "--json")
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)["rounds"][0]
    assert first["pages_sent"] > 10000
    assert 64 * 0.9 <= first["mib_per_s"] <= 64 * 1.1, first
    src.wait()
    dst.signal()
    dst.wait()


def test_cancel_mid_round_keeps_the_guest_here(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 128M --rate 50M --duration 6 --heartbeat-ms 10")
    port = free_port()
    dst = receiver(port)
    t, result = in_background(lambda: migrate(api, port, "--bandwidth", "16M"))
    time.sleep(1.0)
    c = ferry("migrate", "--api", api, "--cancel")
    assert c.returncode == 0, c.stderr
    t.join()
    r = result["r"]
    assert r.returncode == 1 and "cancelled" in r.stderr and "goes on here" in r.stderr
    assert json.loads(ferry("status", "--api", api, "--json").stdout)["state"] == "running"
    assert dst.wait(timeout=30) == 240  # the receiver ran nothing
    assert dst.text() == ""
    assert src.wait() == 0
    assert passed(src)


def test_destination_killed_mid_round(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 128M --rate 50M --duration 6 --heartbeat-ms 10")
    port = free_port()
    dst = receiver(port)
    t, result = in_background(lambda: migrate(api, port, "--bandwidth", "16M"))
    time.sleep(1.0)
    dst.kill()
    t.join()
    assert result["r"].returncode == 1 and "goes on here" in result["r"].stderr
    assert src.wait() == 0
    assert passed(src)


def test_source_killed_mid_round(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 128M --rate 50M --duration 6 --heartbeat-ms 10")
    port = free_port()
    dst = receiver(port)
    t, result = in_background(lambda: migrate(api, port, "--bandwidth", "16M"))
    time.sleep(1.0)
    src.kill()
    t.join()
    assert dst.wait(timeout=30) == 240
    assert "nothing was started" in dst.stderr
    assert dst.text() == ""


def test_on_stall_abort_keeps_the_guest_here(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 64M --rate max --duration 6 --heartbeat-ms 10")
    port = free_port()
    dst = receiver(port)
    r = migrate(api, port, "--bandwidth", "32M", "--downtime-ms", "10", "--max-rounds", "5",
                "--on-stall", "abort")
    assert r.returncode == 1
    assert "did not converge" in r.stderr and "goes on here" in r.stderr
    assert dst.wait(timeout=30) == 240
    assert src.wait() == 0
    assert passed(src)


def test_on_stall_throttle_converges(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 64M --rate max --duration 20 --heartbeat-ms 10")
    port = free_port()
    dst = receiver(port)
    r = migrate(api, port, "--bandwidth", "64M", "--downtime-ms", "10", "--max-rounds", "8",
                "--on-stall", "throttle", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["throttle_pct"] >= 20
    assert "throttl" in report["reason"] or report["converged"]
    print(r.stdout)
    assert src.wait() == 0
    assert dst.wait(timeout=60) == 0, dst.text()[-1500:]
    assert passed(dst)


def test_there_and_back_again(run_vm, tmp_path):
    src, api = start_source(run_vm, tmp_path,
                            "dirtier --size 64M --rate 50M --duration 6 --heartbeat-ms 10")
    port_b = free_port()
    b = receiver(port_b, "--api", tmp_path / "b.sock")
    assert migrate(api, port_b).returncode == 0
    assert src.wait() == 0
    b.wait_for(r"^hb cpu=0 ")
    port_a = free_port()
    a = receiver(port_a)
    r = migrate(tmp_path / "b.sock", port_a)
    assert r.returncode == 0, r.stderr
    assert b.wait() == 0
    assert a.wait() == 0, a.text()[-1500:]
    assert passed(a)
