#!/usr/bin/env python3
"""Block migration (no shared storage) beside QEMU's way of doing it.

A 2 GiB raw disk holding 1 GiB of data; the guest kit's diskcheck writes its
256 MiB area over and over at 64 MiB/s while the VM migrates over TCP loopback.
  ferry: `ferry migrate --copy-storage` to `ferry receive --disk TARGET`.
  QEMU 7.2 (the libvirt recipe): the destination starts with -incoming defer
  and exports its empty target over NBD (block-export-add); the source mirrors
  its disk into it (blockdev-mirror, sync=full), waits for the job to be
  ready, migrates RAM, then completes the mirror (block-job-cancel on a ready
  job) once the migration is done.
Total time is from the first command to the end of the migration (for QEMU:
mirror start -> migration completed); downtime is each VMM's own figure.
Every run must end with diskcheck's PASS at the destination: it reads back
and checks every block it wrote, before and after the move, against the
versions it keeps in (migrated) guest RAM. (The images themselves differ by
then, since the guest goes on writing at the destination; their equality at
the switchover is a test's job: tests/integration/test_disk_migration.py.)

usage: bench/block_migrate.py [--runs N] [--dir DIR] [--vmm ferry,qemu]
                              [--qemu-accel kvm|tcg] [--no-guest]

--qemu-accel tcg runs QEMU without KVM; --vmm qemu leaves ferry out, which
needs KVM for its guest.

--no-guest is for hosts without /dev/kvm: ferry's side is then
build/src/ferry_block_migration_bench (the same engine, disk and writes, but
plain memory instead of a guest, and writes over the same 256 MiB at 64 MiB/s
through ferry's virtio-blk device by a driver thread), run with a spinning thread
that takes a core as a guest's vCPU does; QEMU's side is unchanged (its guest
under TCG when there is no KVM). Both ends check their disks: ferry's bench
compares the target with the source after every run.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from migrate import BEAT, Console, Qmp, free_port, stop  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
ENGINE_BENCH = ROOT / "build" / "src" / "ferry_block_migration_bench"
DISK = 2 << 30
DATA = 1 << 30
# Writes go on past the switchover (so that the destination's final sweep
# checks blocks written on both sides), whatever the migration's length.
WORKLOAD = ("diskcheck --size 256M --rate 64M --duration 15 --linger forever "
            "--heartbeat-ms 10 --sweep-ms 0")


def make_source(path):
    with open(path, "wb") as f:
        f.truncate(DISK)
    # 1 GiB of data beyond diskcheck's area (it uses the first ~260 MiB).
    subprocess.run(["dd", "if=/dev/urandom", f"of={path}", "bs=4M", "count=256",
                    f"seek={(DISK - DATA) // (4 << 20)}", "conv=notrunc"],
                   capture_output=True, check=True)


class SummaryConsole(Console):
    """A Console that also keeps the workload's summary lines."""

    def __init__(self, proc):
        self.lines = []
        self.last = []  # the latest lines of any kind, for an error message
        super().__init__(proc)

    def read(self):
        for line in self.proc.stdout:
            self.last = (self.last + [line.decode(errors="replace").strip()])[-5:]
            if line.startswith(b"diskcheck: "):
                self.lines.append(line.decode(errors="replace").strip())
            elif BEAT.match(line):
                self.beats.append(time.monotonic())

    def wait_pass(self, timeout=60):
        """Waits for diskcheck's summary; raises unless it is PASS."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith("diskcheck: PASS"):
                    return
                if line.startswith("diskcheck: FAIL"):
                    raise RuntimeError("the guest found its disk wrong after the move: " + line)
            time.sleep(0.05)
        raise RuntimeError(f"no diskcheck summary at the destination within {timeout} s; "
                           "it printed last: " + " | ".join(self.last))


def run_ferry(tmp, source, target):
    api = os.path.join(tmp, "src.sock")
    port = free_port()
    dst = subprocess.Popen([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}",
                            "--disk", target], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    arrived = SummaryConsole(dst)
    src = subprocess.Popen([str(FERRY), "run", "--kernel", str(GUEST), "--memory", "512M",
                            "--disk", source, "--cmdline", WORKLOAD, "--api", api],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    Console(src).wait_beats(50)
    start = time.monotonic()
    r = subprocess.run([str(FERRY), "migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}",
                        "--copy-storage", "--json"], capture_output=True, text=True, timeout=600)
    wall = (time.monotonic() - start) * 1000
    try:
        if r.returncode != 0:
            raise RuntimeError("ferry migrate failed: " + r.stderr)
        arrived.wait_pass()
    finally:
        stop(src)
        stop(dst)
    report = json.loads(r.stdout)
    disk = report["disks"][0]
    return {"total_ms": report["total_ms"], "downtime_ms": report["downtime_ms"], "wall_ms": wall,
            "mib_sent": report["bytes_sent"] / (1 << 20), "resent": disk["dirty_chunks"]}


def run_ferry_without_guest(tmp, source, target):
    """ferry's engine on plain memory with a spinning thread for the vCPU;
    the bench makes its own images in `tmp` and checks the target."""
    r = subprocess.run([str(ENGINE_BENCH), "--dir", tmp, "--runs", "1", "--json", "--spin",
                        "--disk-mib", str(DISK >> 20), "--data-mib", str(DATA >> 20),
                        "--memory-mib", "512", "--write-mib", "256", "--write-rate-mib", "64"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("ferry_block_migration_bench failed: " + r.stderr.strip())
    run = json.loads(r.stdout)
    return {"total_ms": run["total_ms"], "downtime_ms": run["downtime_ms"],
            "wall_ms": run["total_ms"], "mib_sent": run["mib_sent"], "resent": run["dirty_chunks"]}


ACCEL = {"kvm": ["-enable-kvm", "-cpu", "host,arch-capabilities=off"],
         "tcg": ["-accel", "tcg", "-cpu", "max"]}
QEMU_ACCEL = ["kvm"]


def qemu_argv(qmp, image, extra=()):
    return ["qemu-system-x86_64", "-M", "microvm", *ACCEL[QEMU_ACCEL[0]], "-m", "512M", "-smp", "1",
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-global", "virtio-mmio.force-legacy=false",
            "-blockdev", f"driver=file,filename={image},node-name=f0,cache.direct=off",
            "-blockdev", "driver=raw,file=f0,node-name=d0",
            "-device", "virtio-blk-device,drive=d0",
            "-kernel", str(GUEST), "-append", WORKLOAD,
            "-qmp", f"unix:{qmp},server=on,wait=off", *extra]


def check(reply):
    if "error" in reply:
        raise RuntimeError(json.dumps(reply["error"]))
    return reply["return"]


def run_qemu(tmp, source, target):
    with open(target, "wb") as f:
        f.truncate(DISK)
    nbd_port, mig_port = free_port(), free_port()
    dst = subprocess.Popen(qemu_argv(f"{tmp}/dst.qmp", target, ["-incoming", "defer"]),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    arrived = SummaryConsole(dst)
    src = subprocess.Popen(qemu_argv(f"{tmp}/src.qmp", source),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    Console(src).wait_beats(50)
    d = Qmp(f"{tmp}/dst.qmp")
    check(d.call("nbd-server-start",
                 addr={"type": "inet", "data": {"host": "127.0.0.1", "port": str(nbd_port)}}))
    check(d.call("block-export-add", type="nbd", id="e0", **{"node-name": "d0"}, writable=True))
    check(d.call("migrate-incoming", uri=f"tcp:127.0.0.1:{mig_port}"))
    s = Qmp(f"{tmp}/src.qmp")
    check(s.call("migrate-set-parameters", **{"max-bandwidth": 10 << 30, "downtime-limit": 300}))
    start = time.monotonic()
    check(s.call("blockdev-add", driver="nbd", **{"node-name": "tgt"},
                 server={"type": "inet", "host": "127.0.0.1", "port": str(nbd_port)},
                 export="d0"))
    check(s.call("blockdev-mirror", **{"job-id": "m0"}, device="d0", target="tgt", sync="full"))
    while not any(j.get("ready") for j in check(s.call("query-block-jobs"))):
        time.sleep(0.01)
    check(s.call("migrate", uri=f"tcp:127.0.0.1:{mig_port}"))
    while True:
        info = check(s.call("query-migrate"))
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.005)
    total = (time.monotonic() - start) * 1000
    check(s.call("block-job-cancel", device="m0"))
    while check(s.call("query-block-jobs")):
        time.sleep(0.01)
    try:
        if info["status"] != "completed":
            raise RuntimeError("QEMU migration " + info["status"])
        arrived.wait_pass()
    finally:
        stop(src)
        stop(dst)
    return {"total_ms": total, "downtime_ms": info["downtime"], "wall_ms": total,
            "mib_sent": info["ram"]["transferred"] / (1 << 20), "resent": 0}


def cell(values, fmt="{:.0f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--vmm", default="ferry,qemu")
    ap.add_argument("--qemu-accel", choices=sorted(ACCEL), default="kvm")
    ap.add_argument("--no-guest", action="store_true",
                    help="ferry's side without a guest (no KVM needed); see the top of this file")
    args = ap.parse_args()
    QEMU_ACCEL[0] = args.qemu_accel
    chosen = args.vmm.split(",")
    results = {name: [] for name in chosen}
    runners = {"ferry": run_ferry_without_guest if args.no_guest else run_ferry, "qemu": run_qemu}
    for _ in range(args.runs):
        for name in ("ferry", "qemu"):
            if name not in chosen:
                continue
            tmp = tempfile.mkdtemp(prefix="ferry-blkmig-", dir=args.dir)
            source, target = f"{tmp}/source.img", f"{tmp}/target.img"
            if not (name == "ferry" and args.no_guest):
                make_source(source)
            try:
                results[name].append(runners[name](tmp, source, target))
            finally:
                subprocess.run(["rm", "-rf", tmp])
    flags = f"--runs {args.runs} --vmm {args.vmm} --qemu-accel {args.qemu_accel}" + (
        " --no-guest" if args.no_guest else "")
    print(f"## Block migration (`bench/block_migrate.py {flags}`), "
          f"{datetime.date.today()}, {platform.node()}")
    print()
    print("2 GiB raw disk with 1 GiB of data; writes over its first 256 MiB at 64 MiB/s all through "
          "the migration; "
          "512 MiB of RAM; TCP loopback. QEMU 7.2: blockdev-mirror to the destination's NBD "
          "export, then migrate, its guest kit's diskcheck writing"
          f"{' (under TCG: no KVM on this host)' if args.qemu_accel == 'tcg' else ''}. ferry: "
          + ("--copy-storage's engine without a guest (ferry_block_migration_bench --spin): zero "
             "memory, the writes through ferry's virtio-blk from a driver thread, a spinning "
             "thread in the vCPU's place." if args.no_guest else
             "ferry migrate --copy-storage, its guest kit's diskcheck writing.")
          + " Medians (range).")
    print()
    print("| | total ms | downtime ms | MiB on the migration stream (QEMU: RAM only; the disk goes over NBD) |")
    print("|---|---|---|---|")
    for name in chosen:
        r = results[name]
        print(f"| {name} | {cell([x['total_ms'] for x in r])} | "
              f"{cell([x['downtime_ms'] for x in r], '{:.1f}')} | "
              f"{cell([x['mib_sent'] for x in r])} |")
    if len(chosen) < 2:
        return
    f, q = results["ferry"], results["qemu"]
    print()
    print(f"ratio ferry/QEMU: total {statistics.median([x['total_ms'] for x in f]) / statistics.median([x['total_ms'] for x in q]):.2f}, "
          f"downtime {statistics.median([x['downtime_ms'] for x in f]) / max(0.001, statistics.median([x['downtime_ms'] for x in q])):.2f}")


if __name__ == "__main__":
    main()
