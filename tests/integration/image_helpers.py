"""Helpers shared by the `ferry image` integration tests: running ferry and
qemu-img, building test images, and poking bytes into qcow2 metadata."""

import io
import os
import random
import shutil
import struct
import subprocess
import tarfile
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


def write_tar(path, members):
    """Writes (name, bytes) members, in order, as a USTAR archive (an OVA's format)."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


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


# --- Guest disks from real filesystems (mke2fs -d), inside MBR or GPT ---

def mkfs_ext4(path, size, tree, label):
    """An ext4 filesystem image of `size` bytes holding `tree`
    ({relative path: bytes}), made by mke2fs -d (no root, no mounting)."""
    root = Path(str(path) + ".tree")
    for rel, data in tree.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
    with open(path, "wb") as f:
        f.truncate(size)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-d", str(root), str(path)],
                   check=True, capture_output=True)
    shutil.rmtree(root)
    return path


def fs_uuid(path, offset=0):
    out = subprocess.run(["dumpe2fs", "-h", f"{path}?offset={offset}" if offset else str(path)],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("Filesystem UUID:"):
            return line.split()[-1]
    raise AssertionError("no UUID")


def make_swap(size):
    """A Linux swap area header (version 1) with a fixed UUID."""
    page = bytearray(size)
    struct.pack_into("<III", page, 1024, 1, size // 4096 - 1, 0)
    page[1036:1052] = bytes(range(0x10, 0x20))
    page[4086:4096] = b"SWAPSPACE2"
    return bytes(page)


def build_disk(path, partitions, scheme):
    """A disk with `partitions` (list of bytes objects, each a multiple of
    512) at 1 MiB alignment in an MBR (type 0x83) or GPT table."""
    import uuid
    import zlib
    lba = 2048
    spans = []
    for data in partitions:
        sectors = len(data) // 512
        spans.append((lba, sectors))
        lba += (sectors + 2047) // 2048 * 2048
    total = (lba + 2048) * 512
    with open(path, "wb") as f:
        f.truncate(total)
        for (start, _), data in zip(spans, partitions):
            f.seek(start * 512)
            f.write(data)
        mbr = bytearray(512)
        if scheme == "mbr":
            for i, (start, sectors) in enumerate(spans):
                struct.pack_into("<B3sB3sII", mbr, 446 + 16 * i, 0x80 if i == 0 else 0,
                                 b"\0\0\0", 0x83, b"\0\0\0", start, sectors)
        else:
            struct.pack_into("<B3sB3sII", mbr, 446, 0, b"\0\0\0", 0xEE, b"\0\0\0", 1,
                             min(total // 512 - 1, 0xFFFFFFFF))
            linux = uuid.UUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4").bytes_le
            entries = bytearray(128 * 128)
            for i, (start, sectors) in enumerate(spans):
                struct.pack_into("<16s16sQQQ", entries, 128 * i, linux, uuid.uuid4().bytes_le,
                                 start, start + sectors - 1, 0)
            header = bytearray(92)
            struct.pack_into("<8sIIIIQQQQ16sQIII", header, 0, b"EFI PART", 0x10000, 92, 0, 0, 1,
                             total // 512 - 1, 34, total // 512 - 34, uuid.uuid4().bytes_le, 2,
                             128, 128, zlib.crc32(entries))
            struct.pack_into("<I", header, 16, zlib.crc32(header))
            f.seek(512)
            f.write(header)
            f.seek(1024)
            f.write(entries)
        mbr[510:512] = b"\x55\xaa"
        f.seek(0)
        f.write(mbr)
    return [(start * 512, sectors * 512) for start, sectors in spans]


def debugfs_cat(path, offset, name):
    r = subprocess.run(["debugfs", "-R", f"cat {name}", f"{path}?offset={offset}"],
                       capture_output=True, check=True)
    return r.stdout


def libvhdi_read(child, parent):
    """The guest-visible bytes of a differencing VHD/VHDX as libvhdi (Debian's
    python3-libvhdi, an independent reader) reads them over `parent`; None
    when the module is missing (the tests then rely on ferry's own checks)."""
    try:
        import pyvhdi
    except ImportError:
        return None
    f, p = pyvhdi.file(), pyvhdi.file()
    f.open(str(child))
    p.open(str(parent))
    f.set_parent(p)
    data = f.read_buffer_at_offset(f.get_media_size(), 0)
    f.close()
    p.close()
    return data


def assert_one_line_failure(result, *words):
    """A failed command that said so in one line holding each of `words`."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], lines[0]
