#!/usr/bin/env python3
"""Block migration (no shared storage) beside QEMU's way of doing it.

A 2 GiB raw disk holding 1 GiB of data; the guest kit's diskcheck writes
256 MiB across its area at 64 MiB/s while the VM migrates over TCP loopback.
  ferry: `ferry migrate --copy-storage` to `ferry receive --disk TARGET`.
  QEMU 7.2 (the libvirt recipe): the destination starts with -incoming defer
  and exports its empty target over NBD (block-export-add); the source mirrors
  its disk into it (blockdev-mirror, sync=full), waits for the job to be
  ready, migrates RAM, then completes the mirror (block-job-cancel on a ready
  job) once the migration is done.
Total time is from the first command to the end of the migration (for QEMU:
mirror start -> migration completed); downtime is each VMM's own figure.
(Image equality is a test's job: tests/integration/test_disk_migration.py.)

usage: bench/block_migrate.py [--runs N] [--dir DIR] [--vmm ferry,qemu] [--qemu-accel kvm|tcg]

--qemu-accel tcg runs QEMU without KVM: its numbers then mean nothing, but it
checks the QEMU recipe (and that the target ends equal to the source) on a
host without /dev/kvm; --vmm qemu leaves ferry out, which needs KVM.
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
from migrate import Console, Qmp, free_port, stop  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
DISK = 2 << 30
DATA = 1 << 30
WORKLOAD = ("diskcheck --size 256M --rate 64M --duration 4 --linger forever "
            "--heartbeat-ms 10 --sweep-ms 0")


def make_source(path):
    with open(path, "wb") as f:
        f.truncate(DISK)
    # 1 GiB of data beyond diskcheck's area (it uses the first ~260 MiB).
    subprocess.run(["dd", "if=/dev/urandom", f"of={path}", "bs=4M", "count=256",
                    f"seek={(DISK - DATA) // (4 << 20)}", "conv=notrunc"],
                   capture_output=True, check=True)


def run_ferry(tmp, source, target):
    api = os.path.join(tmp, "src.sock")
    port = free_port()
    dst = subprocess.Popen([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}",
                            "--disk", target], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    src = subprocess.Popen([str(FERRY), "run", "--kernel", str(GUEST), "--memory", "512M",
                            "--disk", source, "--cmdline", WORKLOAD, "--api", api],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    Console(src).wait_beats(50)
    start = time.monotonic()
    r = subprocess.run([str(FERRY), "migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}",
                        "--copy-storage", "--json"], capture_output=True, text=True, timeout=600)
    wall = (time.monotonic() - start) * 1000
    time.sleep(5)  # diskcheck finishes its writes at the destination
    stop(src)
    stop(dst)
    if r.returncode != 0:
        raise RuntimeError("ferry migrate failed: " + r.stderr)
    report = json.loads(r.stdout)
    disk = report["disks"][0]
    return {"total_ms": report["total_ms"], "downtime_ms": report["downtime_ms"], "wall_ms": wall,
            "mib_sent": report["bytes_sent"] / (1 << 20), "resent": disk["dirty_chunks"]}


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
    time.sleep(5)
    stop(src)
    stop(dst)
    if info["status"] != "completed":
        raise RuntimeError("QEMU migration " + info["status"])
    if subprocess.run(["cmp", "-s", source, target]).returncode != 0:
        raise RuntimeError("QEMU's target image differs from its source after the mirror")
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
    args = ap.parse_args()
    QEMU_ACCEL[0] = args.qemu_accel
    chosen = args.vmm.split(",")
    results = {name: [] for name in chosen}
    for _ in range(args.runs):
        for name, fn in (("ferry", run_ferry), ("qemu", run_qemu)):
            if name not in chosen:
                continue
            tmp = tempfile.mkdtemp(prefix="ferry-blkmig-", dir=args.dir)
            source, target = f"{tmp}/source.img", f"{tmp}/target.img"
            make_source(source)
            results[name].append(fn(tmp, source, target))
            subprocess.run(["rm", "-rf", tmp])
    print(f"## Block migration (`bench/block_migrate.py --runs {args.runs}`), "
          f"{datetime.date.today()}, {platform.node()}, QEMU accelerator {args.qemu_accel}")
    print()
    print("2 GiB raw disk with 1 GiB of data; diskcheck writes 256 MiB at 64 MiB/s during the "
          "migration; 512 MiB guest, TCP loopback. ferry: --copy-storage. QEMU 7.2: "
          "blockdev-mirror to the destination's NBD export, then migrate. Medians (range).")
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
