#!/usr/bin/env python3
"""virtio-net benchmark: guest -> host UDP packets per second with the guest
kit's netblast, under ferry (virtio-net over PCI) and QEMU (-M microvm,
virtio-net-device over virtio-mmio), the same guest ELF, the same TAP in a
network namespace of its own, alternating the two VMMs in one run.

Per run it records the guest's own rate (netblast's PASS line: packets it
queued and got back from the device, per second) and what a UDP socket on the
host side received, per second of the run. Prints one table with medians and
ranges and the ferry/QEMU ratio (above 1 is better for ferry here).

usage: bench/virtio_net.py [--runs N] [--duration S] [--size BYTES]   (root)
"""
import argparse
import datetime
import pathlib
import platform
import re
import statistics
import subprocess
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
TAP = "bntap0"
HOST_IP, GUEST_IP, PORT = "10.79.0.1", "10.79.0.2", 9999

SINK = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
s.settimeout(30)
n = 0
first = last = None
try:
    while True:
        s.recv(4096)
        last = time.monotonic()
        first = first or last
        n += 1
        s.settimeout(1)
except socket.timeout:
    pass
print(n, (last - first) if n > 1 else 0, flush=True)
"""


def sh(*argv):
    subprocess.run([str(a) for a in argv], check=True, capture_output=True)


def make_netns():
    ns = "fbn-" + uuid.uuid4().hex[:8]
    sh("ip", "netns", "add", ns)
    for cmd in (["ip", "tuntap", "add", "dev", TAP, "mode", "tap", "vnet_hdr"],
                ["ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP],
                ["ip", "link", "set", TAP, "up"], ["ip", "link", "set", "lo", "up"]):
        sh("ip", "netns", "exec", ns, *cmd)
    return ns


def netblast(duration, size):
    return (f"netblast --dst-ip {HOST_IP} --ip {GUEST_IP} --port {PORT} --size {size} "
            f"--duration {duration}")


def ferry_argv(cmdline):
    return [str(FERRY), "run", "--kernel", str(GUEST), "--memory", "256M",
            "--net", f"tap={TAP}", "--cmdline", cmdline]


def qemu_argv(cmdline):
    return ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm",
            "-cpu", "host,arch-capabilities=off", "-m", "256M", "-smp", "1",
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-global", "virtio-mmio.force-legacy=false",
            "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
            "-device", "virtio-net-device,netdev=n0",
            "-kernel", str(GUEST), "-append", cmdline]


def one_run(ns, argv, ok_status):
    sink = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", SINK, HOST_IP,
                             str(PORT)], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout.readline().strip() == "ready"
        vm = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                            timeout=120)
        m = re.search(r"^netblast: PASS packets=(\d+) .* ms=([\d.]+) pps=(\d+) ", vm.stdout, re.M)
        if vm.returncode != ok_status or not m:
            raise RuntimeError(f"{argv[0]} failed ({vm.returncode}):\n{vm.stdout}\n{vm.stderr}")
        out, _ = sink.communicate(timeout=60)
        received, _span = out.split()
        seconds = float(m.group(2)) / 1000
        return {"guest_pps": int(m.group(3)), "host_pps": int(received) / seconds,
                "delivered": int(received) / int(m.group(1))}
    finally:
        sink.kill()


def cell(values, fmt):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–" \
           f"{fmt.format(max(values))})"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    cmdline = netblast(args.duration, args.size)
    ns = make_netns()
    results = {"ferry": [], "qemu": []}
    try:
        for _ in range(args.runs):
            results["ferry"].append(one_run(ns, ferry_argv(cmdline), 0))
            results["qemu"].append(one_run(ns, qemu_argv(cmdline), 1))  # QEMU: (0 << 1) | 1
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    print(f"# virtio-net benchmark, {datetime.date.today()}, {platform.node()}, "
          f"{args.runs} runs, `{cmdline}`")
    print("| metric | ferry median (range) | QEMU median (range) | ferry/QEMU |")
    print("|---|---|---|---|")
    for key, label, fmt in (("guest_pps", "guest packets/s (netblast)", "{:,.0f}"),
                            ("host_pps", "packets/s received by a host UDP socket", "{:,.0f}"),
                            ("delivered", "share of sent packets the socket received", "{:.2f}")):
        f = [r[key] for r in results["ferry"]]
        q = [r[key] for r in results["qemu"]]
        ratio = statistics.median(f) / statistics.median(q)
        print(f"| {label} | {cell(f, fmt)} | {cell(q, fmt)} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
