"""Interrupt-controller, timer and XSAVE state survive pause, snapshot/restore
and offline migration: the guest kit's devstate workload checks it itself."""
import re

import pytest

from conftest import FERRY, Guest, ferry
from test_offline_migration import free_port, receiver

DEVSTATE = "devstate --duration 4 --heartbeat-ms 20"


def devstate_passed(guest, cpus):
    return {int(m.group(1)) for _, m in guest.matching(r"^devstate: PASS cpu=(\d+)")} == set(range(cpus))


@pytest.mark.sanitizer
def test_devstate_fails_when_a_register_is_perturbed(run_vm):
    g = run_vm("devstate --duration 1 --selftest-perturb ioapic_redir")
    assert g.wait() == 1
    assert re.search(r"^devstate: FAIL cpu=0 what=ioapic_redir", g.text(), re.M)


def test_devstate_across_snapshot_and_restore(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    g = run_vm(DEVSTATE, cpus=2, api=api)
    g.wait_for(r"^hb cpu=0 seq=20 ")
    assert ferry("snapshot", "--api", api, "--out", tmp_path / "snap").returncode == 0
    assert g.wait() == 0
    restored = Guest([str(FERRY), "restore", str(tmp_path / "snap")])
    assert restored.wait() == 0, restored.text()[-1500:]
    assert devstate_passed(restored, 2)


def test_devstate_across_offline_migration(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    g = run_vm(DEVSTATE, cpus=2, api=api)
    g.wait_for(r"^hb cpu=0 seq=20 ")
    port = free_port()
    dst = receiver(port)
    r = ferry("migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}", "--mode", "offline")
    assert r.returncode == 0, r.stderr
    assert g.wait() == 0
    assert dst.wait() == 0, dst.text()[-1500:]
    assert devstate_passed(dst, 2)
