#!/usr/bin/env python3
"""Live-migration benchmark: ferry beside QEMU, same guest kit file, same run.

Each scenario migrates a 1 GiB guest over TCP loopback, N times for each VMM
(alternating). For both, the pause is also measured as an outside observer
sees it: the harness timestamps the heartbeat lines of the source's and the
destination's consoles as they arrive; the largest gap across the switch is
the observed pause. Prints one table per scenario with medians and ranges.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import socket
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
MEMORY = "1G"
HEARTBEAT = "--heartbeat-ms 10"

SCENARIOS = [
    ("idle", "idle --duration forever " + HEARTBEAT, 1),
    ("dirtier 256M @100M", "dirtier --size 256M --rate 100M --duration forever " + HEARTBEAT, 1),
    ("dirtier 256M @1000M", "dirtier --size 256M --rate 1000M --duration forever " + HEARTBEAT, 1),
    ("dirtier 256M @max", "dirtier --size 256M --rate max --duration forever " + HEARTBEAT, 1),
    ("dirtier 256M @100M, 2 vCPUs",
     "dirtier --size 256M --rate 100M --duration forever " + HEARTBEAT, 2),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Console:
    """Reads a VMM's stdout and timestamps heartbeat lines as they arrive."""

    def __init__(self, proc):
        self.proc = proc
        self.beats = []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.proc.stdout:
            if line.startswith(b"hb "):
                self.beats.append(time.monotonic())

    def wait_beats(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.beats) < n and time.monotonic() < deadline:
            time.sleep(0.01)


def observed_pause_ms(source, destination, start):
    beats = sorted([t for t in source.beats if t >= start] + destination.beats)
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    return max(gaps) * 1000 if gaps else float("nan")


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def run_ferry(cmdline, cpus):
    tmp = tempfile.mkdtemp(prefix="ferry-bench-")
    api = os.path.join(tmp, "src.sock")
    port = free_port()
    dst = subprocess.Popen([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src = subprocess.Popen([str(FERRY), "run", "--kernel", str(GUEST), "--memory", MEMORY,
                            "--cpus", str(cpus), "--cmdline", cmdline, "--api", api],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src_console, dst_console = Console(src), Console(dst)
    src_console.wait_beats(150)  # 1.5 s of heartbeats: the working set is warm
    start = time.monotonic()
    r = subprocess.run([str(FERRY), "migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}",
                        "--json"], capture_output=True, text=True, timeout=300)
    dst_console.wait_beats(100)
    report = json.loads(r.stdout) if r.returncode == 0 else None
    pause = observed_pause_ms(src_console, dst_console, start)
    stop(src)
    stop(dst)
    if report is None:
        raise RuntimeError("ferry migrate failed: " + r.stderr)
    return {"total_ms": report["total_ms"], "downtime_ms": report["downtime_ms"],
            "observed_ms": pause, "mib_sent": report["bytes_sent"] / (1 << 20),
            "rounds": len(report["rounds"]), "converged": report["converged"]}


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
    pause = observed_pause_ms(src_console, dst_console, start)
    stop(src)
    stop(dst)
    if info["status"] != "completed":
        raise RuntimeError("QEMU migration " + info["status"])
    return {"total_ms": info["total-time"], "downtime_ms": info["downtime"],
            "observed_ms": pause, "mib_sent": info["ram"]["transferred"] / (1 << 20),
            "rounds": info["ram"].get("dirty-sync-count", 0), "converged": True}


def cell(values, fmt="{:.1f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="run only scenarios whose name contains this")
    args = parser.parse_args()
    print(f"# migration benchmark, {datetime.date.today()}, {platform.node()}, "
          f"{os.cpu_count()} CPUs, {args.runs} runs each, 1 GiB guest, TCP loopback")
    print("QEMU: -M microvm, max-bandwidth 10 GiB/s, downtime-limit 300 ms; "
          "ferry: --mode precopy, --downtime-ms 300, no bandwidth cap\n")
    for name, cmdline, cpus in SCENARIOS:
        if args.only and args.only not in name:
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
