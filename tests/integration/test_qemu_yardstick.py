"""The same guest kit file boots under QEMU: it is our yardstick in benchmarks."""
import shutil

import pytest

from conftest import Guest


def qemu_argv(guest, cmdline, cpus=1, memory="256M"):
    return ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm",
            "-cpu", "host,arch-capabilities=off", "-m", memory, "-smp", str(cpus),
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
