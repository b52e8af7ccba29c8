#!/usr/bin/env python3
"""Snapshot, restore and offline-migration benchmark, ferry beside QEMU.

A 1 GiB guest whose dirtier has written 256 MiB. Measured N times each:
  - snapshot: ferry `snapshot` total_ms; QEMU: stop, migrate to a file
    (exec:cat > FILE), total-time from query-migrate;
  - restore: from spawning the restore to the guest's first heartbeat
    (ferry restore DIR; QEMU -incoming "exec:cat FILE" + cont);
  - offline migration downtime: ferry --mode offline downtime_ms; QEMU: stop,
    migrate over TCP, cont at the destination: pause-to-first-heartbeat as the
    harness observes it (QEMU has no offline downtime figure of its own).
"""
import argparse
import datetime
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import time

from migrate import FERRY, GUEST, Console, Qmp, free_port, qemu_argv, stop

CMDLINE = "dirtier --size 256M --rate 1000M --duration forever --heartbeat-ms 10"


def ferry_round(tmp):
    api = os.path.join(tmp, "vm.sock")
    src = subprocess.Popen([str(FERRY), "run", "--kernel", str(GUEST), "--memory", "1G",
                            "--cmdline", CMDLINE, "--api", api],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    console = Console(src)
    console.wait_beats(150)
    snap = os.path.join(tmp, "snap")
    r = subprocess.run([str(FERRY), "snapshot", "--api", api, "--out", snap, "--json"],
                       capture_output=True, text=True)
    snapshot_ms = json.loads(r.stdout)["total_ms"]
    stop(src)
    start = time.monotonic()
    restored = subprocess.Popen([str(FERRY), "restore", snap], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
    rc = Console(restored)
    rc.wait_beats(1)
    restore_ms = (rc.beats[0] - start) * 1000
    stop(restored)
    # Offline migration.
    port = free_port()
    dst = subprocess.Popen([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}",
                            "--console", "none"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    src = subprocess.Popen([str(FERRY), "run", "--kernel", str(GUEST), "--memory", "1G",
                            "--cmdline", CMDLINE, "--api", api], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    Console(src).wait_beats(150)
    r = subprocess.run([str(FERRY), "migrate", "--api", api, "--to", f"tcp:127.0.0.1:{port}",
                        "--mode", "offline", "--json"], capture_output=True, text=True)
    offline_ms = json.loads(r.stdout)["downtime_ms"]
    stop(src)
    stop(dst)
    shutil.rmtree(snap)
    return snapshot_ms, restore_ms, offline_ms


def wait_status(qmp, wanted):
    while True:
        info = qmp.call("query-migrate")["return"]
        if info.get("status") in wanted:
            return info
        time.sleep(0.002)


def qemu_round(tmp):
    image = os.path.join(tmp, "qemu.state")
    src = subprocess.Popen(qemu_argv(CMDLINE, 1, f"{tmp}/src.qmp"), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    Console(src).wait_beats(150)
    qmp = Qmp(f"{tmp}/src.qmp")
    qmp.call("migrate-set-parameters", **{"max-bandwidth": 10 << 30})
    start = time.monotonic()
    qmp.call("stop")
    qmp.call("migrate", uri=f"exec:cat > {image}")
    wait_status(qmp, ("completed", "failed"))
    snapshot_ms = (time.monotonic() - start) * 1000
    stop(src)
    start = time.monotonic()
    restored = subprocess.Popen(qemu_argv(CMDLINE, 1, f"{tmp}/dst.qmp",
                                          ["-incoming", f"exec:cat {image}"]),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    rc = Console(restored)
    q = Qmp(f"{tmp}/dst.qmp")
    while q.call("query-status")["return"]["status"] == "inmigrate":
        time.sleep(0.002)
    q.call("cont")
    rc.wait_beats(1)
    restore_ms = (rc.beats[0] - start) * 1000
    stop(restored)
    # Offline migration: stop, migrate over TCP, continue at the destination.
    port = free_port()
    dst = subprocess.Popen(qemu_argv(CMDLINE, 1, f"{tmp}/d2.qmp",
                                     ["-incoming", f"tcp:127.0.0.1:{port}"]),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    dc = Console(dst)
    src = subprocess.Popen(qemu_argv(CMDLINE, 1, f"{tmp}/s2.qmp"), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    sc = Console(src)
    sc.wait_beats(150)
    qs, qd = Qmp(f"{tmp}/s2.qmp"), Qmp(f"{tmp}/d2.qmp")
    qs.call("migrate-set-parameters", **{"max-bandwidth": 10 << 30})
    start = time.monotonic()
    qs.call("stop")
    qs.call("migrate", uri=f"tcp:127.0.0.1:{port}")
    wait_status(qs, ("completed", "failed"))
    while qd.call("query-status")["return"]["status"] == "inmigrate":
        time.sleep(0.002)
    qd.call("cont")
    dc.wait_beats(1)
    offline_ms = (dc.beats[0] - start) * 1000
    stop(src)
    stop(dst)
    os.unlink(image)
    return snapshot_ms, restore_ms, offline_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = {"ferry": [], "qemu": []}
    for _ in range(args.runs):
        tmp = tempfile.mkdtemp(prefix="snap-bench-")
        results["ferry"].append(ferry_round(tmp))
        results["qemu"].append(qemu_round(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"# snapshot benchmark, {datetime.date.today()}, {args.runs} runs each, "
          f"1 GiB guest, 256 MiB written (`{CMDLINE}`)")
    print("| metric | ferry median (range) | QEMU median (range) | ferry/QEMU |")
    print("|---|---|---|---|")
    labels = ("snapshot ms", "restore ms (spawn to first heartbeat)",
              "offline migration downtime ms (QEMU: stop to first heartbeat)")
    for i, label in enumerate(labels):
        f = [r[i] for r in results["ferry"]]
        q = [r[i] for r in results["qemu"]]
        fm, qm = statistics.median(f), statistics.median(q)
        print(f"| {label} | {fm:.1f} ({min(f):.1f}–{max(f):.1f}) | {qm:.1f} ({min(q):.1f}–{max(q):.1f}) "
              f"| {fm / qm:.2f} |")


if __name__ == "__main__":
    main()
