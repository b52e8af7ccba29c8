"""Debian's own cloud kernel boots under ferry far enough to print its banner.

On this PVM host ring-0 code is emulated, so Linux gets through early boot and
then stops on an instruction PVM cannot emulate; the banner is the contract.
"""
import subprocess

import pytest

from conftest import BUILD, ROOT, Guest, FERRY


@pytest.fixture(scope="session")
def vmlinux():
    r = subprocess.run([str(ROOT / "scripts" / "fetch-linux.sh"), str(BUILD / "linux")],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.fail("could not fetch Debian's kernel: " + r.stderr)
    return BUILD / "linux" / "vmlinux"


@pytest.mark.kvm
@pytest.mark.slow
def test_debian_kernel_prints_its_banner(vmlinux):
    g = Guest([str(FERRY), "run", "--kernel", str(vmlinux), "--memory", "512M",
               "--cmdline", "earlyprintk=serial,ttyS0,115200 console=ttyS0"])
    try:
        m = g.wait_for(r"Linux version (\S+)", timeout=120)
        assert "cloud-amd64" in m.group(1)
        g.wait_for(r"Command line: earlyprintk=serial", timeout=30)
    finally:
        g.kill()
