#!/usr/bin/env python3
"""Convert throughput, ferry beside qemu-img on the same files in the same run.

Images: one half data (random 1 MiB runs) half holes, one mostly zero (a few
MiB of data). Conversions: raw->qcow2, qcow2->raw, vmdk->qcow2, vhdx->qcow2.
Both tools copy in parallel (qemu-img -m 8 -W, ferry -m 8) and flush the
output at the end (qemu-img -t writeback; ferry's default, which also writes
a resume checkpoint every 5 s), so the page cache does not decide the race. Prints MiB/s of data and of virtual size.

Usage: bench/image/convert_bench.py [--size 4G] [--dir /var/tmp] [--runs 2]
Not a test: nothing here fails.
"""

import argparse
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)


def make_half(path, size):
    rng = random.Random(7)
    block = rng.randbytes(MiB)
    with open(path, "wb") as f:
        f.truncate(size)
        for off in range(0, size, 2 * MiB):
            f.seek(off)
            f.write(block)


def make_mostly_zero(path, size):
    rng = random.Random(8)
    with open(path, "wb") as f:
        f.truncate(size)
        for off in range(0, size, size // 8):
            f.seek(off)
            f.write(rng.randbytes(MiB))


def data_bytes(path):
    return os.stat(path).st_blocks * 512


def timed(cmd):
    subprocess.run(["sync"], check=True)
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="4G")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--ferry", default=str(ROOT / "build" / "src" / "ferry"))
    args = ap.parse_args()
    size = parse_size(args.size)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        d = Path(d)
        sources = {}
        for name, maker in (("half", make_half), ("zero", make_mostly_zero)):
            raw = d / f"{name}.raw"
            maker(raw, size)
            subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, d / f"{name}.qcow2"], check=True)
            subprocess.run(["qemu-img", "convert", "-O", "vmdk", raw, d / f"{name}.vmdk"], check=True)
            subprocess.run(["qemu-img", "convert", "-O", "vhdx", raw, d / f"{name}.vhdx"], check=True)
            sources[name] = (raw, data_bytes(raw))
        print(f"virtual size {size // MiB} MiB; half: {sources['half'][1] // MiB} MiB data, "
              f"zero: {sources['zero'][1] // MiB} MiB data; best of {args.runs} runs")
        print(f"{'image':6} {'conversion':13} {'tool':6} {'seconds':>8} {'data MiB/s':>11} {'virtual MiB/s':>14}")
        for name, (raw, data) in sources.items():
            for src_fmt, dst_fmt in (("raw", "qcow2"), ("qcow2", "raw"), ("vmdk", "qcow2"),
                                     ("vhdx", "qcow2")):
                src = d / f"{name}.{src_fmt}"
                for tool in ("qemu", "ferry"):
                    best = None
                    for _ in range(args.runs):
                        out = d / f"out.{dst_fmt}"
                        if out.exists():
                            out.unlink()
                        if tool == "qemu":
                            cmd = ["qemu-img", "convert", "-m", "8", "-W", "-t", "writeback",
                                   "-f", src_fmt, "-O", dst_fmt, src, out]
                        else:
                            cmd = [args.ferry, "image", "convert", "-m", "8", "-f", src_fmt,
                                   "-O", dst_fmt, src, out]
                        t = timed([str(c) for c in cmd])
                        best = t if best is None else min(best, t)
                    print(f"{name:6} {src_fmt + '->' + dst_fmt:13} {tool:6} {best:8.3f} "
                          f"{data / MiB / best:11.0f} {size / MiB / best:14.0f}")


if __name__ == "__main__":
    main()
