"""`ferry run` boots the guest kit and the guest's own checks pass."""
import json
import re
import signal
import time

import pytest

from conftest import ferry


@pytest.mark.sanitizer
def test_hello_prints_and_exits_zero(run_vm):
    g = run_vm("hello")
    assert g.wait() == 0
    assert "hello from ferry-guest cpu=0" in g.text()
    assert re.search(r"ferry-guest: up cpus=1 mem_mib=\d+", g.text())


@pytest.mark.sanitizer
def test_guest_exit_status_comes_through(run_vm):
    g = run_vm("hello --exit 7")
    assert g.wait() == 7


def test_two_cpus_both_run_the_dirtier(run_vm):
    g = run_vm("dirtier --size 64M --rate 50M --duration 2", cpus=2)
    assert g.wait() == 0, g.text()[-2000:]
    passed = {int(m.group(1)) for _, m in g.matching(r"^dirtier: PASS cpu=(\d+)")}
    assert passed == {0, 1}
    assert "cpus=2" in g.text()


@pytest.mark.sanitizer
def test_dirtier_verifies_its_memory(run_vm):
    g = run_vm("dirtier --size 128M --rate max --duration 3 --pattern random --sweep-ms 500")
    assert g.wait() == 0, g.text()[-2000:]
    m = g.wait_for(r"^dirtier: PASS cpu=0 pages_written=(\d+) .*pages_verified=(\d+) sweeps=(\d+)")
    assert int(m.group(1)) > 32768  # more writes than pages: pages were rewritten and rechecked
    assert int(m.group(2)) > 0
    assert int(m.group(3)) >= 2


def test_dirtier_catches_a_corrupted_page(run_vm):
    # The verifier must be able to fail: the guest corrupts one of its own pages.
    g = run_vm("dirtier --size 16M --rate max --duration 1 --selftest-corrupt")
    assert g.wait() == 1
    assert re.search(r"^dirtier: FAIL cpu=0 page=\d+", g.text(), re.M)


@pytest.mark.sanitizer
def test_pause_stops_heartbeats_and_resume_restarts_them(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    g = run_vm("idle --duration 3 --heartbeat-ms 5", api=api)
    g.wait_for(r"^hb cpu=0 seq=20 ")
    r = ferry("pause", "--api", api)
    assert r.returncode == 0 and r.stdout.strip() == "paused", r.stderr
    paused_at = time.monotonic()
    status = json.loads(ferry("status", "--api", api, "--json").stdout)
    assert status["state"] == "paused"
    time.sleep(0.6)
    late = [ts for ts, _ in g.matching(r"^hb cpu=0") if ts > paused_at + 0.05]
    assert late == [], "heartbeats arrived while paused"
    assert ferry("resume", "--api", api).returncode == 0
    resumed_at = time.monotonic()
    seq = int(g.matching(r"^hb cpu=0 seq=(\d+)")[-1][1].group(1))
    g.wait_for(rf"^hb cpu=0 seq={seq + 10} ")
    gap = [ts for ts, _ in g.matching(r"^hb cpu=0") if ts > resumed_at]
    assert gap, "no heartbeat after resume"
    assert g.wait() == 0
    # The guest itself saw the pause as its largest gap between heartbeats.
    m = g.wait_for(r"^idle: PASS cpu=0 max_gap_ms=([\d.]+)")
    assert float(m.group(1)) >= 550
    assert not api.exists(), "control socket left behind"


@pytest.mark.sanitizer
def test_status_reports_the_machine(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    g = run_vm("idle --duration forever", cpus=2, memory="384M", api=api)
    g.wait_for(r"^hb cpu=1 ")
    r = ferry("status", "--api", api, "--json")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["state"] == "running"
    assert status["vcpus"] == 2
    assert status["memory_bytes"] == 384 << 20
    assert status["pid"] == g.proc.pid
    assert status["uptime_ms"] > 0
    human = ferry("status", "--api", api).stdout
    assert "state:" in human and "running" in human
    g.signal(signal.SIGTERM)
    assert g.wait() == 128 + signal.SIGTERM
    assert not api.exists()


def test_control_requests_that_do_not_fit_the_state_are_refused(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    g = run_vm("idle --duration forever", api=api)
    g.wait_for(r"^hb cpu=0 ")
    r = ferry("resume", "--api", api)
    assert r.returncode == 1
    assert "running" in r.stderr and "cannot" in r.stderr
    ferry("stop", "--api", api)
    assert g.wait() == 0
