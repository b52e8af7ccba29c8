#!/usr/bin/env python3
"""virtio-blk throughput from inside the guest: the guest kit's diskbench
(sequential 1 MiB and random 4 KiB, read and write, at queue depth 1 and 32)
under ferry (virtio-pci) and under QEMU (-M microvm, virtio-mmio, the same
guest file and the same raw image). QEMU runs twice: with its default
writeback cache (the page cache, as ferry uses) and with cache=none,aio=native
(O_DIRECT, what production setups choose). Runs alternate.

usage: bench/virtio_blk.py [--runs N] [--size 256M] [--dir DIR]
"""
import argparse
import datetime
import pathlib
import platform
import re
import statistics
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
RESULT = re.compile(r"^diskbench: result test=(\w+) bs=\S+ qd=(\d+) .* mib_s=([\d.]+) iops=([\d.]+)",
                    re.M)


def ferry_argv(image, cmdline):
    return [str(FERRY), "run", "--kernel", str(GUEST), "--memory", "512M", "--disk", str(image),
            "--cmdline", cmdline]


def qemu_argv(image, cmdline, cache):
    return ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm",
            "-cpu", "host,arch-capabilities=off", "-m", "512M", "-smp", "1",
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-global", "virtio-mmio.force-legacy=false",
            "-drive", f"file={image},format=raw,if=none,id=d0,{cache}",
            "-device", "virtio-blk-device,drive=d0",
            "-kernel", str(GUEST), "-append", cmdline]


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300).stdout
    return {(m.group(1), int(m.group(2))): (float(m.group(3)), float(m.group(4)))
            for m in RESULT.finditer(out)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", default="256M")
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--duration", default="2")
    args = ap.parse_args()
    image = pathlib.Path(args.dir) / "ferry-bench-blk.img"
    with open(image, "wb") as f:
        f.truncate(1 << 30)
    subprocess.run(["dd", "if=/dev/urandom", f"of={image}", "bs=1M", "count=256", "conv=notrunc"],
                   capture_output=True, check=True)
    peers = {
        "ferry": lambda c: ferry_argv(image, c),
        "qemu (writeback)": lambda c: qemu_argv(image, c, "cache=writeback"),
        "qemu (none,native)": lambda c: qemu_argv(image, c, "cache=none,aio=native"),
    }
    results = {name: {} for name in peers}
    for qd in (1, 32):
        cmdline = f"diskbench --qd {qd} --size {args.size} --duration {args.duration}"
        for _ in range(args.runs):
            for name, argv in peers.items():
                for key, value in run(argv(cmdline)).items():
                    results[name].setdefault(key, []).append(value)
    image.unlink()
    print(f"## virtio-blk from the guest (`bench/virtio_blk.py --runs {args.runs}`), "
          f"{datetime.date.today()}, {platform.node()}")
    print()
    print("ferry: virtio-pci, page cache (pread/pwrite on a worker thread). QEMU 7.2: -M microvm, "
          "virtio-mmio, the same guest file and image. Medians of "
          f"{args.runs} runs; ratio = ferry / QEMU writeback.")
    print()
    names = list(peers)
    print("| test | qd | " + " | ".join(names) + " | ratio |")
    print("|---|---|" + "---|" * len(names) + "---|")
    for test, unit in (("seqread", 0), ("seqwrite", 0), ("randread", 1), ("randwrite", 1)):
        for qd in (1, 32):
            cells = []
            values = []
            for name in names:
                samples = [s[unit] for s in results[name].get((test, qd), [])]
                v = statistics.median(samples) if samples else float("nan")
                values.append(v)
                cells.append(f"{v:,.0f} {'MiB/s' if unit == 0 else 'IOPS'}")
            ratio = values[0] / values[1] if values[1] else float("nan")
            print(f"| {test} {'1 MiB' if unit == 0 else '4 KiB'} | {qd} | " + " | ".join(cells)
                  + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
