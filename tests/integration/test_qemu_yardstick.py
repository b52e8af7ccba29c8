"""The same guest kit file boots under QEMU: it is our yardstick in benchmarks."""
import re
import shutil

import pytest

from conftest import Guest, qemu_accel


def qemu_argv(guest, cmdline, cpus=1, memory="256M"):
    return ["qemu-system-x86_64", "-M", "microvm", *qemu_accel(), "-m", memory, "-smp", str(cpus),
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", str(guest), "-append", cmdline]


def test_dirtier_passes_under_qemu(guest_elf):
    if shutil.which("qemu-system-x86_64") is None:
        pytest.fail("qemu-system-x86_64 missing: run make (it installs qemu-system-x86)")
    g = Guest(qemu_argv(guest_elf, "dirtier --size 64M --rate 100M --duration 2", cpus=2))
    rc = g.wait(timeout=60)
    # isa-debug-exit turns guest status s into (s << 1) | 1.
    assert rc == 1, g.text()[-2000:] + g.stderr
    assert len(g.matching(r"^dirtier: PASS cpu=")) == 2


def test_guest_kit_times_itself_without_kvmclock(guest_elf):
    """Under TCG there is no kvmclock: the guest measures its TSC against the PIT, and
    its heartbeat clock must then keep pace with the host's."""
    if shutil.which("qemu-system-x86_64") is None:
        pytest.fail("qemu-system-x86_64 missing: run make (it installs qemu-system-x86)")
    argv = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-cpu", "max",
            "-m", "128M", "-smp", "1", "-display", "none", "-nodefaults", "-serial", "stdio",
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", str(guest_elf), "-append", "idle --duration 3 --heartbeat-ms 100"]
    g = Guest(argv)
    rc = g.wait(timeout=60)
    assert rc == 1, g.text()[-2000:] + g.stderr
    assert re.search(r"^ferry-guest: no kvmclock: TSC measured at [1-9]\d{5,} kHz against the PIT$",
                     g.text(), re.M), g.text()[:2000]
    beats = g.matching(r"^hb cpu=0 seq=\d+ t_us=(\d+)")
    assert len(beats) >= 20, g.text()[-2000:]
    (host0, first), (host1, last) = beats[2], beats[-1]
    guest_s = (int(last.group(1)) - int(first.group(1))) / 1e6
    host_s = host1 - host0
    assert abs(guest_s - host_s) <= 0.1 * host_s, (guest_s, host_s)
