#!/usr/bin/env python3
"""Boot benchmark: ferry beside QEMU on the same guest kit file, same run.

Measures, N times each, alternating the two VMMs:
  - first output: from spawning the VMM to the guest's first console line;
  - hello total: spawn to exit of `hello`;
  - VMM memory overhead: RSS of the VMM process minus the resident part of the
    guest RAM mapping, for an idle 1 GiB guest (read from /proc/PID/smaps).
Prints one table with medians and ranges and the ferry/QEMU ratio.
"""
import argparse
import datetime
import pathlib
import platform
import statistics
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
MEMORY = "1G"


def ferry_argv(cmdline):
    return [str(FERRY), "run", "--kernel", str(GUEST), "--memory", MEMORY, "--cmdline", cmdline]


def qemu_argv(cmdline):
    return ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm",
            "-cpu", "host,arch-capabilities=off", "-m", MEMORY, "-smp", "1",
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", str(GUEST), "-append", cmdline]


def time_hello(argv):
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.readline()
    first = time.monotonic() - start
    proc.stdout.read()
    proc.wait()
    return first * 1000, (time.monotonic() - start) * 1000


def guest_ram_rss_kib(pid, ram_kib):
    """Rss of the mapping(s) backing guest RAM: the anonymous ones of exactly its size."""
    rss = 0
    size = None
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            if line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("Rss:") and size == ram_kib:
                rss += int(line.split()[1])
    return rss


def vmm_overhead_mib(argv):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(50):  # wait for a few heartbeats: the guest is up and idle
        proc.stdout.readline()
    with open(f"/proc/{proc.pid}/status") as status:
        rss = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
    guest = guest_ram_rss_kib(proc.pid, 1024 * 1024)
    proc.kill()
    proc.wait()
    return (rss - guest) / 1024, guest / 1024


def summarize(values):
    return statistics.median(values), min(values), max(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = {"ferry": {"first": [], "total": [], "overhead": [], "guest": []},
               "qemu": {"first": [], "total": [], "overhead": [], "guest": []}}
    for _ in range(args.runs):
        for name, make in (("ferry", ferry_argv), ("qemu", qemu_argv)):
            first, total = time_hello(make("hello"))
            results[name]["first"].append(first)
            results[name]["total"].append(total)
            overhead, guest = vmm_overhead_mib(make("idle --duration forever --heartbeat-ms 1"))
            results[name]["overhead"].append(overhead)
            results[name]["guest"].append(guest)

    print(f"# boot benchmark, {datetime.date.today()}, {platform.node()}, "
          f"{args.runs} runs each, guest kit `hello`, {MEMORY} RAM, 1 vCPU")
    print("| metric | ferry median (range) | QEMU median (range) | ferry/QEMU |")
    print("|---|---|---|---|")
    for key, label, unit in (("first", "spawn to first guest output", "ms"),
                             ("total", "spawn to exit (`hello`)", "ms"),
                             ("overhead", "VMM RSS beyond guest RAM (idle)", "MiB"),
                             ("guest", "guest RAM resident (idle)", "MiB")):
        f = summarize(results["ferry"][key])
        q = summarize(results["qemu"][key])
        ratio = f[0] / q[0] if q[0] else float("nan")
        print(f"| {label} | {f[0]:.1f} {unit} ({f[1]:.1f}–{f[2]:.1f}) | "
              f"{q[0]:.1f} {unit} ({q[1]:.1f}–{q[2]:.1f}) | {ratio:.2f} |")


if __name__ == "__main__":
    main()
