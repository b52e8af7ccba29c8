#!/usr/bin/env python3
"""Live-migration benchmark: ferry beside QEMU, same guest kit file, same run.

Each scenario migrates a 1 GiB guest over TCP loopback, N times for each VMM
(alternating). For both, the pause is also measured as an outside observer
sees it: the harness timestamps the heartbeat lines of the source's and the
destination's consoles as they arrive; the largest gap across the switch is
the observed pause. Prints one table per scenario with medians and ranges.

`--dirty-tracking log,ring` runs ferry once per method in each round (the
methods and QEMU interleaved, so machine noise hits all alike) and adds the
per-round collect cost, ring-full exits and the guest's own throughput during
the migration relative to the second before it (from the dirtier's
heartbeats, which carry its page count: `work=N`).
"""
import argparse
import datetime
import json
import os
import re
import pathlib
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
MEMORY = "1G"
HEARTBEAT = "--heartbeat-ms 10"
WORK = " --heartbeat-work"  # the dirtier's beats carry its page count

SCENARIOS = [
    ("idle", "idle --duration forever " + HEARTBEAT, 1),
    ("dirtier 256M @100M", "dirtier --size 256M --rate 100M --duration forever " + HEARTBEAT + WORK, 1),
    ("dirtier 256M @1000M", "dirtier --size 256M --rate 1000M --duration forever " + HEARTBEAT + WORK, 1),
    ("dirtier 256M @max", "dirtier --size 256M --rate max --duration forever " + HEARTBEAT + WORK, 1),
    ("dirtier 256M @100M, 2 vCPUs",
     "dirtier --size 256M --rate 100M --duration forever " + HEARTBEAT + WORK, 2),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BEAT = re.compile(rb"^hb cpu=(\d+) seq=\d+ t_us=(\d+)(?: work=(\d+))?")


class Console:
    """Reads a VMM's stdout and timestamps heartbeat lines as they arrive."""

    def __init__(self, proc):
        self.proc = proc
        self.beats = []
        self.work = []  # (arrival, cpu, guest t_us, pages written so far)
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.proc.stdout:
            m = BEAT.match(line)
            if m:
                now = time.monotonic()
                self.beats.append(now)
                if m.group(3) is not None:
                    self.work.append((now, int(m.group(1)), int(m.group(2)), int(m.group(3))))

    def wait_beats(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.beats) < n and time.monotonic() < deadline:
            time.sleep(0.01)


def observed_pause_ms(source, destination, start):
    beats = sorted([t for t in source.beats if t >= start] + destination.beats)
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    return max(gaps) * 1000 if gaps else float("nan")


def guest_slowdown(source, destination, start, end):
    """The guest's write rate from the last beat before `start` to the first
    beat after `end` (across the switch), over its rate in the second before
    `start`, summed over CPUs; from the guest's own clock and page counter."""
    rates_before, rates_during = [], []
    for cpu in {w[1] for w in source.work}:
        src = [w for w in source.work if w[1] == cpu]
        dst = [w for w in destination.work if w[1] == cpu and w[0] >= end]
        before = [w for w in src if start - 1.0 <= w[0] <= start]
        if len(before) < 2 or not dst:
            return float("nan")
        a, b = before[0], before[-1]
        rates_before.append((b[3] - a[3]) / max(1, b[2] - a[2]))
        c = dst[0]
        rates_during.append((c[3] - b[3]) / max(1, c[2] - b[2]))
    if not rates_before or sum(rates_before) == 0:
        return float("nan")
    return sum(rates_during) / sum(rates_before)


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def run_ferry(cmdline, cpus, tracking=None):
    binary = FERRY
    if tracking and "@" in tracking:  # METHOD@BINARY: compare two builds
        tracking, binary = tracking.split("@", 1)
    tmp = tempfile.mkdtemp(prefix="ferry-bench-")
    api = os.path.join(tmp, "src.sock")
    port = free_port()
    method = ["--dirty-tracking", tracking] if tracking else []
    dst = subprocess.Popen([str(binary), "receive", "--listen", f"tcp:127.0.0.1:{port}", *method],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src = subprocess.Popen([str(binary), "run", "--kernel", str(GUEST), "--memory", MEMORY,
                            "--cpus", str(cpus), "--cmdline", cmdline, "--api", api, *method],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src_console, dst_console = Console(src), Console(dst)
    src_console.wait_beats(150)  # 1.5 s of heartbeats: the working set is warm
    start = time.monotonic()
    r = subprocess.run([str(binary), "migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}",
                        "--json"], capture_output=True, text=True, timeout=300)
    end = time.monotonic()
    dst_console.wait_beats(100)
    report = json.loads(r.stdout) if r.returncode == 0 else None
    pause = observed_pause_ms(src_console, dst_console, start)
    stop(src)
    stop(dst)
    if report is None:
        raise RuntimeError("ferry migrate failed: " + r.stderr)
    live = [x["collect_ms"] for x in report["rounds"][:-1]] or [0.0]
    phases = report.get("switchover", {})
    return {"total_ms": report["total_ms"], "downtime_ms": report["downtime_ms"],
            "observed_ms": pause, "mib_sent": report["bytes_sent"] / (1 << 20),
            "rounds": len(report["rounds"]), "converged": report["converged"],
            "collect_ms": statistics.median(live), "collect_max_ms": max(live),
            "collect_paused_ms": report["rounds"][-1]["collect_ms"],
            "ring_full_exits": report.get("ring_full_exits", 0),
            "guest_rate": guest_slowdown(src_console, dst_console, start, end),
            "tracking": report.get("dirty_tracking", "?"),
            **{"phase_" + k: v for k, v in phases.items()}}


class Qmp:
    def __init__(self, path):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.file = self.sock.makefile("rwb")
        self.file.readline()
        self.call("qmp_capabilities")

    def call(self, command, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.file.write(json.dumps(msg).encode() + b"\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "return" in reply or "error" in reply:
                return reply


def qemu_argv(cmdline, cpus, qmp, extra=()):
    return ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm",
            "-cpu", "host,arch-capabilities=off", "-m", MEMORY, "-smp", str(cpus),
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", str(GUEST), "-append", cmdline, "-qmp", f"unix:{qmp},server=on,wait=off",
            *extra]


def run_qemu(cmdline, cpus):
    tmp = tempfile.mkdtemp(prefix="qemu-bench-")
    port = free_port()
    dst = subprocess.Popen(qemu_argv(cmdline, cpus, f"{tmp}/dst.qmp",
                                     ["-incoming", f"tcp:127.0.0.1:{port}"]),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src = subprocess.Popen(qemu_argv(cmdline, cpus, f"{tmp}/src.qmp"),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src_console, dst_console = Console(src), Console(dst)
    src_console.wait_beats(150)
    qmp = Qmp(f"{tmp}/src.qmp")
    qmp.call("migrate-set-parameters", **{"max-bandwidth": 10 << 30, "downtime-limit": 300})
    start = time.monotonic()
    qmp.call("migrate", uri=f"tcp:127.0.0.1:{port}")
    while True:
        info = qmp.call("query-migrate")["return"]
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.005)
    dst_console.wait_beats(100)
    end = time.monotonic()
    pause = observed_pause_ms(src_console, dst_console, start)
    rate = guest_slowdown(src_console, dst_console, start, end)
    stop(src)
    stop(dst)
    if info["status"] != "completed":
        raise RuntimeError("QEMU migration " + info["status"])
    return {"total_ms": info["total-time"], "downtime_ms": info["downtime"],
            "observed_ms": pause, "mib_sent": info["ram"]["transferred"] / (1 << 20),
            "rounds": info["ram"].get("dirty-sync-count", 0), "converged": True,
            "guest_rate": rate}


def cell(values, fmt="{:.1f}"):
    values = [v for v in values if v == v]  # drop NaN
    if not values:
        return "n/a"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


METRICS = (("total_ms", "total ms", "{:.1f}"), ("downtime_ms", "downtime ms (self-reported)", "{:.2f}"),
           ("observed_ms", "observed pause ms", "{:.1f}"), ("mib_sent", "MiB sent", "{:.1f}"),
           ("rounds", "rounds (QEMU: dirty syncs)", "{:.1f}"),
           ("guest_rate", "guest write rate during migration / before", "{:.2f}"))
FERRY_METRICS = (("collect_ms", "collect ms per live round (median of the run)", "{:.3f}"),
                 ("collect_max_ms", "collect ms, largest live round", "{:.3f}"),
                 ("collect_paused_ms", "collect ms, paused round", "{:.3f}"),
                 ("ring_full_exits", "ring-full exits", "{:.0f}"),
                 ("phase_pause_ms", "downtime: pause ms", "{:.3f}"),
                 ("phase_last_pages_ms", "downtime: last pages ms", "{:.3f}"),
                 ("phase_devices_ms", "downtime: devices ms", "{:.3f}"),
                 ("phase_load_ms", "downtime: destination load ms", "{:.3f}"),
                 ("phase_handover_ms", "handover ms (go -> running reply)", "{:.3f}"),
                 ("phase_start_ms", "downtime: go -> destination running ms", "{:.3f}"))


def print_methods(name, cmdline, cpus, results, methods, runs):
    """One table: a column per dirty-tracking method, QEMU, and ratios."""
    cols = [f"ferry {m}" for m in methods] + (["QEMU"] if results["qemu"] else [])
    ratio = len(methods) == 2
    print(f"## {name} (`{cmdline}`, {cpus} vCPU)")
    head = "| metric | " + " | ".join(f"{c} median (range)" for c in cols)
    head += f" | {methods[1]}/{methods[0]} |" if ratio else " |"
    print(head)
    print("|---" * (len(cols) + 1 + ratio) + "|")
    for key, label, fmt in METRICS + FERRY_METRICS:
        row = []
        for m in methods:
            row.append(cell([r.get(key, float("nan")) for r in results[m]], fmt))
        if results["qemu"]:
            row.append(cell([r[key] for r in results["qemu"]], fmt) if key in results["qemu"][0] else "")
        line = f"| {label} | " + " | ".join(row)
        if ratio:
            a, b = (median([r.get(key, float("nan")) for r in results[m]]) for m in methods)
            line += f" | {b / a:.2f} |" if a else " | |"
        else:
            line += " |"
        print(line)
    conv = " | ".join(f"{sum(r['converged'] for r in results[m])}/{runs}" for m in methods)
    print(f"| converged | {conv}" + (f" | {runs}/{runs}" if results["qemu"] else "") +
          (" | |" if ratio else " |") + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="run only scenarios whose name contains this")
    parser.add_argument("--dirty-tracking",
                        help="comma-separated ferry methods to compare, e.g. log,ring "
                             "(each passed as --dirty-tracking to run and receive); "
                             "METHOD@BINARY runs that ferry binary (before/after comparisons)")
    parser.add_argument("--no-qemu", action="store_true", help="leave QEMU out")
    parser.add_argument("--ferry", help="the ferry binary (default: build/src/ferry)")
    parser.add_argument("--guest", help="the guest kit file (default: build/guest/ferry-guest.elf)")
    args = parser.parse_args()
    global FERRY, GUEST
    if args.ferry:
        FERRY = pathlib.Path(args.ferry)
    if args.guest:
        GUEST = pathlib.Path(args.guest)
    print(f"# migration benchmark, {datetime.date.today()}, {platform.node()}, "
          f"{os.cpu_count()} CPUs, {args.runs} runs each, 1 GiB guest, TCP loopback")
    print("QEMU: -M microvm, max-bandwidth 10 GiB/s, downtime-limit 300 ms; "
          "ferry: --mode precopy, --downtime-ms 300, no bandwidth cap\n")
    for name, cmdline, cpus in SCENARIOS:
        if args.only and args.only not in name:
            continue
        if args.dirty_tracking:
            methods = args.dirty_tracking.split(",")
            results = {m: [] for m in methods}
            results["qemu"] = []
            for i in range(args.runs):
                # Alternate which method goes first, so neither always follows QEMU.
                for m in (methods if i % 2 == 0 else methods[::-1]):
                    results[m].append(run_ferry(cmdline, cpus, m))
                if not args.no_qemu:
                    results["qemu"].append(run_qemu(cmdline, cpus))
            print_methods(name, cmdline, cpus, results, methods, args.runs)
            sys.stdout.flush()
            continue
        results = {"ferry": [], "qemu": []}
        for _ in range(args.runs):
            results["ferry"].append(run_ferry(cmdline, cpus))
            results["qemu"].append(run_qemu(cmdline, cpus))
        print(f"## {name} (`{cmdline}`, {cpus} vCPU)")
        print("| metric | ferry median (range) | QEMU median (range) | ferry/QEMU |")
        print("|---|---|---|---|")
        for key, label in (("total_ms", "total ms"), ("downtime_ms", "downtime ms (self-reported)"),
                           ("observed_ms", "observed pause ms"), ("mib_sent", "MiB sent"),
                           ("rounds", "rounds (QEMU: dirty syncs)")):
            f = [r[key] for r in results["ferry"]]
            q = [r[key] for r in results["qemu"]]
            ratio = statistics.median(f) / statistics.median(q) if statistics.median(q) else float("nan")
            print(f"| {label} | {cell(f)} | {cell(q)} | {ratio:.2f} |")
        conv = sum(r["converged"] for r in results["ferry"])
        print(f"| converged | {conv}/{args.runs} | {args.runs}/{args.runs} | |\n")


if __name__ == "__main__":
    main()
