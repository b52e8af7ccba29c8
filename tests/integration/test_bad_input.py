"""Bad input gets one clear line, a non-zero exit and leaves nothing behind."""
import os
import subprocess

import pytest

from conftest import FERRY, GUEST, Guest, ferry

SETUP_FAILED = 240


def run(*args):
    return ferry("run", *args)


def assert_one_line_error(result, *words):
    assert result.returncode == SETUP_FAILED, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.sanitizer
def test_missing_kernel():
    assert_one_line_error(run("--kernel", "/nonexistent/kernel"), "/nonexistent/kernel",
                          "No such file")


@pytest.mark.sanitizer
def test_file_that_is_not_a_kernel(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a kernel\n" * 100)
    assert_one_line_error(run("--kernel", bogus), "neither an ELF", "bzImage")


def test_elf_without_pvh_note():
    assert_one_line_error(run("--kernel", "/bin/true"), "PVH entry note")


def test_more_memory_than_the_host_has():
    assert_one_line_error(run("--kernel", GUEST, "--memory", "64T"), "more than this host")


@pytest.mark.sanitizer
def test_zero_cpus():
    assert_one_line_error(run("--kernel", GUEST, "--cpus", "0"), "--cpus 0")


def test_unknown_option_and_missing_kernel_option():
    assert_one_line_error(run("--kernal", GUEST), "unknown option --kernal")
    assert_one_line_error(run("--cmdline", "hello"), "--kernel PATH is required")


def test_bad_memory_size():
    assert_one_line_error(run("--kernel", GUEST, "--memory", "lots"), "not a size")


def test_no_access_to_dev_kvm():
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        str(FERRY), "run", "--kernel", str(GUEST)],
                       capture_output=True, text=True, timeout=30)
    assert_one_line_error(r, "/dev/kvm")


def test_control_socket_in_use(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    first = run_vm("idle --duration forever", api=api)
    first.wait_for(r"^hb cpu=0 ")
    second = run("--kernel", GUEST, "--cmdline", "hello", "--api", api)
    assert_one_line_error(second, str(api), "in use")
    # The first VM is untouched and its socket still answers.
    assert ferry("status", "--api", api).returncode == 0
    ferry("stop", "--api", api)
    assert first.wait() == 0


def test_control_socket_path_is_a_file(tmp_path):
    path = tmp_path / "plain-file"
    path.write_text("keep me")
    assert_one_line_error(run("--kernel", GUEST, "--cmdline", "hello", "--api", path),
                          "not a socket")
    assert path.read_text() == "keep me"


def test_stale_control_socket_is_reused(run_vm, tmp_path):
    api = tmp_path / "vm.sock"
    first = run_vm("idle --duration forever", api=api)
    first.wait_for(r"^hb cpu=0 ")
    first.kill()  # SIGKILL: the socket file stays behind
    assert api.exists()
    g = run_vm("hello", api=api)
    assert g.wait() == 0


def test_client_commands_without_a_vm(tmp_path):
    r = ferry("status", "--api", tmp_path / "nothing.sock")
    assert r.returncode == 1
    assert "no VM at" in r.stderr
    r = ferry("pause")
    assert r.returncode == 1 and "--api PATH" in r.stderr


def test_no_core_dump_on_bad_input(tmp_path):
    r = subprocess.run([str(FERRY), "run", "--kernel", "/nonexistent"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == SETUP_FAILED
    assert list(tmp_path.iterdir()) == []
