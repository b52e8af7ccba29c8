"""The guest kit's virtio drivers and workloads against QEMU, the reference
implementation of the same devices: virtio-mmio under -M microvm, virtio-pci
(modern only) under -M q35 and -M pc.

QEMU's isa-debug-exit turns guest status s into the exit code (s << 1) | 1:
PASS 0 -> 1, FAIL 1 -> 3, missing device 3 -> 7.
"""
import os
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import Guest, qemu_accel

QEMU = "qemu-system-x86_64"
QBOOT = "/usr/share/qemu/qboot.rom"
RC_PASS, RC_FAIL, RC_NO_DEVICE = 1, 3, 7


def qemu_argv(guest, cmdline, machine="microvm", devices=(), bios=None, memory="256M"):
    if shutil.which(QEMU) is None:
        pytest.fail("qemu-system-x86_64 missing: run make (it installs qemu-system-x86)")
    argv = [QEMU, "-M", machine, *qemu_accel(),
            "-m", memory, "-smp", "1", "-display", "none", "-nodefaults", "-serial", "stdio",
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            # QEMU's virtio-mmio is legacy (version 1) unless told otherwise.
            "-global", "virtio-mmio.force-legacy=false",
            "-kernel", str(guest), "-append", cmdline]
    if bios:
        argv += ["-bios", bios]
    return argv + list(devices)


def run_qemu(guest, cmdline, timeout=60, **kw):
    g = Guest(qemu_argv(guest, cmdline, **kw))
    rc = g.wait(timeout=timeout)
    return rc, g.text()


def blk(path, bus="device", readonly=False, extra=""):
    """-drive/-device for a raw file as virtio-blk on virtio-mmio ("device") or PCI ("pci")."""
    ro = ",readonly=on" if readonly else ""
    dev = (f"virtio-blk-{bus},drive=d0,serial=ferry-0" + (",disable-legacy=on" if bus == "pci" else "")
           + extra)
    return ["-drive", f"file={path},format=raw,if=none,id=d0,cache=unsafe{ro}", "-device", dev]


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "disk.raw"
    with open(path, "wb") as f:
        f.truncate(16 << 20)
    return path


def write_run(guest_elf, disk, cmdline="diskcheck --duration 1 --heartbeat-ms 50 --sweep-ms 300",
              **kw):
    kw.setdefault("devices", blk(disk))
    rc, out = run_qemu(guest_elf, cmdline, **kw)
    assert rc == RC_PASS, out
    m = re.search(r"^diskcheck: PASS blocks=(\d+) .* writes=(\d+) .* run=(0x[0-9a-f]+)", out, re.M)
    assert m, out
    layout = re.search(r"^diskcheck: disk=0 .* block_size=4K blocks=(\d+) table_blocks=(\d+)",
                       out, re.M)
    assert layout, out
    return {"blocks": int(m.group(1)), "writes": int(m.group(2)), "run": m.group(3),
            "table_blocks": int(layout.group(2)), "out": out}


def test_diskcheck_then_verify_only_on_virtio_mmio(guest_elf, disk):
    w = write_run(guest_elf, disk)
    assert re.search(r"^virtio-mmio: 0x[0-9a-f]+ virtio-blk$", w["out"], re.M)
    assert re.search(r"^hb cpu=0 seq=\d+ t_us=\d+$", w["out"], re.M)
    assert re.search(r'^diskcheck: id="ferry-0" status=OK$', w["out"], re.M)
    # A second boot trusts nothing but the disk: header, table and every block.
    rc, out = run_qemu(guest_elf, "diskcheck --verify-only", devices=blk(disk))
    assert rc == RC_PASS, out
    m = re.search(r"^diskcheck: PASS mode=verify-only blocks=(\d+) verified=(\d+) "
                  r"unwritten=\d+ zeroed=1 run=(0x[0-9a-f]+) writes=(\d+)", out, re.M)
    assert m, out
    assert (int(m.group(1)), m.group(3), int(m.group(4))) == (w["blocks"], w["run"], w["writes"])
    assert int(m.group(2)) == w["blocks"]


def test_verify_only_fails_on_a_damaged_block(guest_elf, disk):
    w = write_run(guest_elf, disk)
    block = 7
    offset = (1 + w["table_blocks"] + block) * 4096 + 1000
    with open(disk, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))
    rc, out = run_qemu(guest_elf, "diskcheck --verify-only", devices=blk(disk))
    assert rc == RC_FAIL, out
    assert re.search(rf"^diskcheck: FAIL reason=mismatch block={block} .* word=125$", out, re.M), out


def test_verify_only_wants_zeros_in_unwritten_blocks(guest_elf, disk):
    # The writer discards and zeroes the data area first (both offered by QEMU), then
    # writes only a few blocks at 1 MiB/s: the last block stays unwritten.
    w = write_run(guest_elf, disk, "diskcheck --duration 0.2 --rate 1M --heartbeat-ms 0")
    assert re.search(r"^diskcheck: prepared discard=ok write_zeroes=ok$", w["out"], re.M)
    last = w["blocks"] - 1
    with open(disk, "r+b") as f:
        f.seek((1 + w["table_blocks"] + last) * 4096 + 8)
        f.write(b"\x01")
    rc, out = run_qemu(guest_elf, "diskcheck --verify-only", devices=blk(disk))
    assert rc == RC_FAIL, out
    assert re.search(rf"^diskcheck: FAIL reason=not_zero block={last} .* word=1 found=0x1$", out,
                     re.M), out


def test_verify_only_fails_on_an_unfinished_writer(guest_elf, disk):
    # A writer killed before its final table leaves the header saying "writing".
    g = Guest(qemu_argv(guest_elf, "diskcheck --duration forever --heartbeat-ms 20",
                        devices=blk(disk)))
    g.wait_for(r"^hb cpu=0 seq=5 ")
    g.kill()
    rc, out = run_qemu(guest_elf, "diskcheck --verify-only", devices=blk(disk))
    assert rc == RC_FAIL, out
    assert re.search(r"^diskcheck: FAIL reason=unclean state=1 ", out, re.M), out


def test_selftest_corrupt_is_caught(guest_elf, disk):
    rc, out = run_qemu(guest_elf, "diskcheck --duration 1 --heartbeat-ms 0 --selftest-corrupt",
                       devices=blk(disk))
    assert rc == RC_FAIL, out
    assert re.search(r"^diskcheck: FAIL reason=mismatch block=0 .* expected_version=1 "
                     r"found_index=0 found_version=1 .* word=256$", out, re.M), out


def test_readonly_drive_refuses_writes_but_verifies(guest_elf, disk):
    write_run(guest_elf, disk)
    rc, out = run_qemu(guest_elf, "diskcheck --duration 1", devices=blk(disk, readonly=True))
    assert rc == RC_NO_DEVICE, out
    assert re.search(r"^diskcheck: disk=0 .* ro=1 ", out, re.M) is None  # refused before layout
    assert re.search(r"^diskcheck: error: disk 0 \(mmio 0x[0-9a-f]+\) is read-only "
                     r"\(VIRTIO_BLK_F_RO\): writes refused", out, re.M), out
    rc, out = run_qemu(guest_elf, "diskcheck --verify-only", devices=blk(disk, readonly=True))
    assert rc == RC_PASS, out
    assert re.search(r"^diskcheck: disk=0 .* ro=1 ", out, re.M), out


def test_missing_device_is_status_3(guest_elf):
    rc, out = run_qemu(guest_elf, "diskcheck --duration 1", devices=["-device", "virtio-rng-device"])
    assert rc == RC_NO_DEVICE, out
    assert re.search(r"^diskcheck: error: no virtio-blk device found \(index 0, 0 present\)$",
                     out, re.M), out


def test_legacy_virtio_mmio_is_named(guest_elf):
    argv = qemu_argv(guest_elf, "rngcheck", devices=["-device", "virtio-rng-device"])
    argv.remove("-global")
    argv.remove("virtio-mmio.force-legacy=false")
    g = Guest(argv)
    assert g.wait(timeout=30) == RC_NO_DEVICE, g.text()
    assert re.search(r"^virtio-mmio: 0x[0-9a-f]+ virtio-rng ignored: legacy interface",
                     g.text(), re.M), g.text()


def test_rngcheck_and_kernel_cmdline_tokens(guest_elf):
    # Without ACPI microvm names its devices by appending virtio_mmio.device=... words.
    rc, out = run_qemu(guest_elf, "rngcheck --bytes 64K", machine="microvm,acpi=off",
                       devices=["-device", "virtio-rng-device"])
    assert rc == RC_PASS, out
    assert "virtio_mmio.device=" in out.splitlines()[0]
    assert re.search(r"^rngcheck: PASS bytes=65536 requests=\d+ ones_permille=(49\d|50\d) "
                     r"distinct=256 ", out, re.M), out


def test_virtio_pci_on_q35_with_unassigned_bars(guest_elf, disk):
    # qboot leaves PCI BARs at 0, so the guest assigns them itself.
    devices = blk(disk, bus="pci") + ["-device", "virtio-rng-pci,disable-legacy=on"]
    rc, out = run_qemu(guest_elf, "diskcheck --duration 1 --heartbeat-ms 0", machine="q35",
                       bios=QBOOT, devices=devices)
    assert rc == RC_PASS, out
    assert re.search(r"^pci: 00:01\.0 BAR4 0x0 -> 0xe0[0-9a-f]+ .*assigned by the guest\)$", out,
                     re.M), out
    assert re.search(r"^pci: 00:01\.0 1af4:1042 virtio-blk$", out, re.M), out
    assert re.search(r"^pci: 00:02\.0 1af4:1044 virtio-rng$", out, re.M), out
    rc, out = run_qemu(guest_elf, "diskcheck --verify-only", machine="q35", bios=QBOOT,
                       devices=devices)
    assert rc == RC_PASS, out
    rc, out = run_qemu(guest_elf, "rngcheck", machine="q35", bios=QBOOT, devices=devices)
    assert rc == RC_PASS, out


def test_diskbench_prints_results(guest_elf, disk):
    rc, out = run_qemu(guest_elf, "diskbench --qd 8 --duration 0.2 --size 8M", devices=blk(disk))
    assert rc == RC_PASS, out
    tests = re.findall(r"^diskbench: result test=(\w+) bs=(\d+) qd=8 ops=[1-9]\d* .* mib_s=[\d.]+ "
                       r"iops=\d+ kicks=\d+ notifications=\d+$", out, re.M)
    assert [t[0] for t in tests] == ["seqwrite", "seqread", "randwrite", "randread"], out


@pytest.mark.slow
def test_virtio_pci_on_pc_with_seabios(guest_elf, disk):
    # SeaBIOS assigns the BARs (about 4 s of firmware under PVM).
    write_run(guest_elf, disk, machine="pc", devices=blk(disk, bus="pci"))
    rc, out = run_qemu(guest_elf, "diskcheck --verify-only", machine="pc",
                       devices=blk(disk, bus="pci"))
    assert rc == RC_PASS, out
    assert re.search(r"^pci: 00:02\.0 1af4:1042 virtio-blk$", out, re.M), out


# --- network: a TAP device in a network namespace of its own ---------------------------

def netns(name, *cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", name, *cmd], capture_output=True, text=True,
                          timeout=kw.pop("timeout", 20), **kw)


@pytest.fixture
def tap_netns():
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None:
        pytest.skip("needs root, /dev/net/tun and iproute2")
    name = "fgv-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (["ip", "tuntap", "add", "dev", "gvtap0", "mode", "tap"],
                    ["ip", "addr", "add", "10.77.0.1/24", "dev", "gvtap0"],
                    ["ip", "link", "set", "gvtap0", "up"],
                    ["ip", "link", "set", "lo", "up"]):
            r = netns(name, *cmd)
            assert r.returncode == 0, r.stderr
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name])


def net_guest(guest_elf, ns, cmdline, extra=()):
    argv = qemu_argv(guest_elf, cmdline, devices=[
        "-netdev", "tap,id=n0,ifname=gvtap0,script=no,downscript=no",
        "-device", "virtio-net-device,netdev=n0", *extra])
    return Guest(["ip", "netns", "exec", ns] + argv)


UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(20):
    msg = b"ferry %d " % i + bytes(range(256)) * (i % 5)
    s.sendto(msg, ("10.77.0.2", 7000 + i))
    data, addr = s.recvfrom(4096)
    assert data == msg and addr == ("10.77.0.2", 7000 + i), (data[:20], addr)
print("echoed 20")
"""


def test_netecho_answers_udp_over_tap(guest_elf, tap_netns):
    g = net_guest(guest_elf, tap_netns, "netecho --ip 10.77.0.2 --duration 4 --heartbeat-ms 100")
    try:
        g.wait_for(r"^netecho: listening ip=10\.77\.0\.2/24 mac=52:54:00:12:34:56 "
                   r"mac_source=device ", timeout=20)
        r = netns(tap_netns, "python3", "-c", UDP_CLIENT)
        assert r.returncode == 0 and "echoed 20" in r.stdout, r.stdout + r.stderr
        assert g.wait(timeout=20) == RC_PASS, g.text()
        m = g.wait_for(r"^netecho: PASS rx=\d+ tx=\d+ udp=(\d+) arp=(\d+) ")
        assert int(m.group(1)) == 20 and int(m.group(2)) >= 1, g.text()
    finally:
        g.kill()


UDP_SINK = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("10.77.0.1", 9999))
s.settimeout(15)
n = 0
try:
    while True:
        data, addr = s.recvfrom(4096)
        assert len(data) == 100 and addr == ("10.77.0.2", 9), (len(data), addr)
        n += 1
        s.settimeout(1)
except socket.timeout:
    pass
print("received", n)
"""


def test_netblast_reaches_the_host(guest_elf, tap_netns):
    sink = subprocess.Popen(["ip", "netns", "exec", tap_netns, "python3", "-c", UDP_SINK],
                            stdout=subprocess.PIPE, text=True)
    try:
        g = net_guest(guest_elf, tap_netns,
                      "netblast --dst-ip 10.77.0.1 --ip 10.77.0.2 --port 9999 --size 100 "
                      "--duration 1")
        assert g.wait(timeout=30) == RC_PASS, g.text()
        m = g.wait_for(r"^netblast: PASS packets=(\d+) .* pps=(\d+) ")
        out, _ = sink.communicate(timeout=30)
        received = int(out.split()[1])
        assert 0 < received <= int(m.group(1)), (out, g.text())
    finally:
        sink.kill()


GARP_CAPTURE = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("gvtap0", 0))
s.settimeout(1)
print("capturing", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    op = struct.unpack("!H", f[20:22])[0]
    print("arp", op, f[0:6].hex(":"), f[22:28].hex(":"), socket.inet_ntoa(f[28:32]),
          socket.inet_ntoa(f[38:42]), flush=True)
"""


def qmp(path, *commands):
    """Runs QMP commands on a fresh connection and returns their replies."""
    import json
    import socket
    import time
    for _ in range(100):
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(path))
            break
        except OSError:
            time.sleep(0.05)
    with sock, sock.makefile("rw") as f:
        f.readline()  # greeting
        replies = []
        for command in ({"execute": "qmp_capabilities"},) + commands:
            f.write(json.dumps(command) + "\n")
            f.flush()
            line = json.loads(f.readline())
            while "event" in line:
                line = json.loads(f.readline())
            replies.append(line)
        return replies[1:]


def test_netecho_announces_itself_when_qemu_asks(guest_elf, tap_netns, tmp_path):
    """QEMU's announce-self sets VIRTIO_NET_S_ANNOUNCE once per round when the driver took
    GUEST_ANNOUNCE; each time netecho broadcasts a gratuitous ARP and acknowledges (QEMU
    answers the ack with VIRTIO_NET_OK only while the request stands)."""
    sock = tmp_path / "qmp.sock"
    g = net_guest(guest_elf, tap_netns, "netecho --ip 10.77.0.2 --duration 8 --heartbeat-ms 500",
                  extra=["-qmp", f"unix:{sock},server=on,wait=off"])
    capture = subprocess.Popen(["ip", "netns", "exec", tap_netns, "python3", "-c", GARP_CAPTURE,
                                "6"], stdout=subprocess.PIPE, text=True)
    try:
        g.wait_for(r"^netecho: listening ip=10\.77\.0\.2/24 mac=52:54:00:12:34:56 .* "
                   r"guest_announce=yes$", timeout=20)
        assert capture.stdout.readline().strip() == "capturing"
        replies = qmp(sock, {"execute": "announce-self", "arguments": {
            "initial": 50, "max": 550, "rounds": 2, "step": 100}})
        assert replies == [{"return": {}}], replies
        for count in (1, 2):
            g.wait_for(rf"^netecho: announced ip=10\.77\.0\.2 mac=52:54:00:12:34:56 "
                       rf"\(the device asked\) count={count}$", timeout=10)
        out, _ = capture.communicate(timeout=20)
        garps = [line for line in out.splitlines()
                 if line == "arp 1 ff:ff:ff:ff:ff:ff 52:54:00:12:34:56 10.77.0.2 10.77.0.2"]
        assert len(garps) == 2, out
        assert g.wait(timeout=30) == RC_PASS, g.text()
        assert re.search(r"^netecho: PASS .* announced=2 ", g.text(), re.M), g.text()
    finally:
        capture.kill()
        g.kill()
