"""Shared fixtures for the integration tests: they boot real guests on KVM.

FERRY_BUILD selects the build directory whose `ferry` is tested (default
`build`); FERRY_GUEST overrides the guest kit file (the sanitizer run uses the
release build's guest).

Tests that boot a guest under ferry carry the `kvm` marker (every test that
uses run_vm gets it by itself). Where /dev/kvm is missing they are skipped,
and the run ends with a line that says how many; FERRY_REQUIRE_KVM=1 turns
those skips into failures, for machines that are meant to have KVM. QEMU runs
the guest kit under KVM when it can and under TCG otherwise (qemu_accel()).
"""
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("FERRY_BUILD", "build")
FERRY = BUILD / "src" / "ferry"
GUEST = pathlib.Path(os.environ.get("FERRY_GUEST", BUILD / "guest" / "ferry-guest.elf"))
if not GUEST.is_absolute():
    GUEST = ROOT / GUEST


HAVE_KVM = os.access("/dev/kvm", os.R_OK | os.W_OK)
REQUIRE_KVM = os.environ.get("FERRY_REQUIRE_KVM") == "1"
NO_KVM_REASON = "needs /dev/kvm, which this host does not have"


def pytest_configure(config):
    config.addinivalue_line("markers", "sanitizer: also run against the ASan+UBSan build")
    config.addinivalue_line("markers", "slow: boots Linux or takes many seconds")
    config.addinivalue_line(
        "markers", "kvm: boots a guest under ferry; skipped where /dev/kvm is missing")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "run_vm" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kvm)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("kvm") is None or HAVE_KVM:
        return
    if REQUIRE_KVM:
        pytest.fail(f"FERRY_REQUIRE_KVM=1 but this test {NO_KVM_REASON}")
    pytest.skip(NO_KVM_REASON)


def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get("skipped", ())
               if NO_KVM_REASON in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"WARNING: {len(skipped)} tests that boot guests under ferry were SKIPPED: "
            f"/dev/kvm is missing on this host. They ran nowhere in this run.",
            yellow=True, bold=True)


def qemu_accel():
    """QEMU's accelerator options: KVM as in the benchmarks, or TCG without /dev/kvm
    (the guest kit then times itself with a TSC it measures against the PIT)."""
    if HAVE_KVM:
        return ["-enable-kvm", "-cpu", "host,arch-capabilities=off"]
    return ["-accel", "tcg", "-cpu", "max"]


class Guest:
    """A running `ferry run` (or QEMU) process whose console lines are timestamped."""

    def __init__(self, argv, env=None):
        self.argv = argv
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines = []  # (monotonic time, text)
        self.stderr = ""
        self._partial_err = ""
        self._cond = threading.Condition()
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            now = time.monotonic()
            with self._cond:
                self.lines.append((now, raw.decode(errors="replace").rstrip("\r\n")))
                self._cond.notify_all()

    def _read_stderr(self):
        self._partial_err = ""
        for raw in self.proc.stderr:
            self._partial_err += raw.decode(errors="replace")
        self.stderr = self._partial_err

    def wait_for(self, pattern, timeout=20):
        """Returns the first match of `pattern` in a console line, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for _, text in self.lines[seen:]:
                    m = regex.search(text)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._out.is_alive()):
                    raise AssertionError(
                        f"no line matching {pattern!r} within {timeout}s; output:\n"
                        + self.text()[-3000:] + "\nstderr:\n" + self.stderr)
                self._cond.wait(min(left, 0.1))

    def wait(self, timeout=60):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.argv[0]} did not exit within {timeout}s:\n" + self.text()[-2000:])
        self._out.join(5)
        self._err.join(5)
        return rc

    def stderr_so_far(self):
        return self.stderr if not self._err.is_alive() else self._partial_err

    def text(self):
        with self._cond:
            return "\n".join(t for _, t in self.lines)

    def matching(self, pattern):
        regex = re.compile(pattern)
        with self._cond:
            return [(ts, regex.search(t)) for ts, t in self.lines if regex.search(t)]

    def signal(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def ferry_bin():
    if not FERRY.exists():
        pytest.fail(f"{FERRY} is not built (run make)")
    return FERRY


@pytest.fixture
def guest_elf():
    if not GUEST.exists():
        pytest.fail(f"{GUEST} is not built (run make)")
    return GUEST


@pytest.fixture
def run_vm(ferry_bin, guest_elf):
    """run_vm("dirtier --size 64M", cpus=2, api=path) starts the guest kit under ferry."""
    started = []

    def start(cmdline, cpus=1, memory="256M", api=None, kernel=None, extra=()):
        argv = [str(ferry_bin), "run", "--kernel", str(kernel or guest_elf),
                "--cmdline", cmdline, "--memory", memory, "--cpus", str(cpus)]
        if api:
            argv += ["--api", str(api)]
        argv += list(extra)
        g = Guest(argv)
        started.append(g)
        return g

    yield start
    for g in started:
        g.kill()


def ferry(*args, timeout=30):
    """Runs a short ferry command and returns the CompletedProcess."""
    return subprocess.run([str(FERRY), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
