#!/usr/bin/env python3
"""Extracts the ELF vmlinux from a bzImage.

A bzImage carries its kernel as one compressed payload after the real-mode
setup code. We look for each compressor's magic number, feed everything from
there to the matching Debian tool, and keep the first output that is an ELF
file (the same idea as the kernel's scripts/extract-vmlinux).
"""
import subprocess
import sys

DECOMPRESSORS = [
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"]),
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"]),
    (b"\xfd7zXZ\x00", ["xz", "-dcq"]),
    (b"\x1f\x8b\x08", ["gzip", "-dcq"]),
]


def candidates(data):
    for magic, command in DECOMPRESSORS:
        start = 0
        while (offset := data.find(magic, start)) >= 0:
            yield offset, command
            start = offset + 1


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract-vmlinux.py BZIMAGE OUT")
    data = open(sys.argv[1], "rb").read()
    for offset, command in candidates(data):
        result = subprocess.run(command, input=data[offset:], capture_output=True)
        if result.stdout[:4] == b"\x7fELF":
            with open(sys.argv[2], "wb") as out:
                out.write(result.stdout)
            return
    sys.exit(f"extract-vmlinux: no compressed ELF payload found in {sys.argv[1]}")


if __name__ == "__main__":
    main()
