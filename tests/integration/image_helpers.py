"""Helpers shared by the `ferry image` integration tests: running ferry and
qemu-img, building test images, and poking bytes into qcow2 metadata."""

import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


def ferry_bin():
    build = Path(os.environ.get("FERRY_BUILD", ROOT / "build"))
    for candidate in (build / "src" / "ferry", build / "src" / "ferry-image"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no ferry binary under {build}/src")


def ferry(*args, check=True):
    """Runs `ferry image ARGS`; returns the CompletedProcess."""
    result = subprocess.run([str(ferry_bin()), "image", *map(str, args)],
                            capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"ferry image {' '.join(map(str, args))} exited "
                             f"{result.returncode}: {result.stderr}")
    return result


def qemu_img(*args, check=True):
    result = subprocess.run(["qemu-img", *map(str, args)], capture_output=True, text=True,
                            timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"qemu-img {' '.join(map(str, args))} exited "
                             f"{result.returncode}: {result.stderr}")
    return result


def have_qemu_img():
    return shutil.which("qemu-img") is not None


def write_pattern_raw(path, size=64 * MiB, seed=1):
    """A sparse raw disk with random data, an unaligned small write, explicit
    zeros (allocated but zero: sparse detection must skip them), compressible
    text, and data in the last sector."""
    rng = random.Random(seed)
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(1 * MiB)
        f.write(rng.randbytes(MiB))
        f.seek(10 * MiB + 512)
        f.write(rng.randbytes(4096))
        f.seek(20 * MiB)
        f.write(bytes(256 * 1024))
        f.seek(30 * MiB)
        f.write(b"".join(b"ferry compressible line %08d\n" % i for i in range(2 * MiB // 32)))
        f.seek(size - 512)
        f.write(rng.randbytes(512))
    return path


def raw_of(path, out, fmt=None):
    """qemu-img's reading of an image, as raw bytes in `out`."""
    args = ["convert", "-O", "raw"]
    if fmt:
        args += ["-f", fmt]
    qemu_img(*args, path, out)
    return out


def same_bytes(a, b):
    return subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0


class Qcow2:
    """Reads the fields of a qcow2 header the tests need to corrupt."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            h = f.read(104)
        (self.magic, self.version, self.backing_offset, self.backing_size, self.cluster_bits,
         self.size, _crypt, self.l1_size, self.l1_offset, self.refcount_table_offset,
         self.refcount_table_clusters, self.nb_snapshots,
         self.snapshots_offset) = struct.unpack(">IIQIIQIIQQIIQ", h[:72])
        self.cluster_size = 1 << self.cluster_bits

    def read_u64(self, offset):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return struct.unpack(">Q", f.read(8))[0]

    def write_u64(self, offset, value):
        with open(self.path, "r+b") as f:
            f.seek(offset)
            f.write(struct.pack(">Q", value))

    def first_l2_offset(self):
        return self.read_u64(self.l1_offset) & 0x00FFFFFFFFFFFE00

    def first_refcount_block(self):
        return self.read_u64(self.refcount_table_offset)

    def set_refcount(self, cluster, value):
        """16-bit refcounts only."""
        block = self.first_refcount_block()
        with open(self.path, "r+b") as f:
            f.seek(block + 2 * cluster)
            f.write(struct.pack(">H", value))

    def get_refcount(self, cluster):
        with open(self.path, "rb") as f:
            f.seek(self.first_refcount_block() + 2 * cluster)
            return struct.unpack(">H", f.read(2))[0]
