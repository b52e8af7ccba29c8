#!/usr/bin/env bash
# Seeds the fuzz corpora with small images of every kind the tests use,
# written by qemu-img: fuzz/make_corpus.sh OUTDIR makes OUTDIR/<target>/.
set -euo pipefail
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"/{qcow2,qcow2_check,vmdk,vhd,vhdx,vhdx_format,probe,checkpoint,tar,vm_descriptions,guest_fixup,lvm,migration_stream}

# Migration streams, written by ferry's own writers (the seed tool sits in the
# fuzz build, beside OUTDIR).
"$(dirname "$out")/migration_stream_seed" "$out/migration_stream"

# A 1 MiB disk with data at the start, in the middle and at the end, and a
# compressible stretch.
raw=$work/disk.raw
python3 - "$raw" <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    f.truncate(1 << 20)
    f.write(r.randbytes(3000))
    f.seek(300 << 10); f.write(b"ferry fuzz seed line\n" * 400)
    f.seek((1 << 20) - 512); f.write(r.randbytes(512))
PY
q() { qemu-img "$@" >/dev/null; }

q convert -O qcow2 -o cluster_size=512 "$raw" "$out/qcow2/v3-512.qcow2"
q convert -O qcow2 -o cluster_size=512,compat=0.10 "$raw" "$out/qcow2/v2-512.qcow2"
q convert -c -O qcow2 -o cluster_size=4096 "$raw" "$out/qcow2/deflate.qcow2"
q convert -c -O qcow2 -o cluster_size=4096,compression_type=zstd "$raw" "$out/qcow2/zstd.qcow2"
q convert -O qcow2 -o cluster_size=512,refcount_bits=1 "$raw" "$out/qcow2/rc1.qcow2"
q create -f qcow2 -o cluster_size=512 -u -b disk.raw -F raw "$out/qcow2/backed.qcow2" 1M
cp "$out/qcow2/v3-512.qcow2" "$work/snap.qcow2"
q snapshot -c s1 "$work/snap.qcow2"
cp "$work/snap.qcow2" "$out/qcow2/snapshot.qcow2"
cp "$out"/qcow2/* "$out/qcow2_check/"

q convert -O vmdk "$raw" "$out/vmdk/sparse.vmdk"
q convert -O vmdk -o subformat=streamOptimized "$raw" "$out/vmdk/stream.vmdk"
q convert -O vmdk -o subformat=monolithicFlat "$raw" "$work/flat.vmdk"
cp "$work/flat.vmdk" "$out/vmdk/flat-descriptor.vmdk"

q convert -O vpc -o subformat=fixed "$raw" "$out/vhd/fixed.vhd"
head -c 4096 "$raw" > "$work/small.raw"
q convert -O vpc "$work/small.raw" "$out/vhd/dynamic.vhd"

q convert -O vhdx -o block_size=1M "$raw" "$out/vhdx/dynamic.vhdx"
q create -f vhdx "$out/vhdx/empty.vhdx" 1M
# The VHDX tables alone: header, region table, metadata table.
v=$out/vhdx/dynamic.vhdx
dd if="$v" of="$out/vhdx_format/header" bs=4096 skip=16 count=1 status=none
dd if="$v" of="$out/vhdx_format/region-table" bs=65536 skip=3 count=1 status=none
dd if="$v" of="$out/vhdx_format/metadata-table" bs=65536 skip=48 count=1 status=none

for d in qcow2 vmdk vhd vhdx; do cp "$out/$d"/* "$out/probe/"; done

# VM descriptions: the first byte picks the parser (0 VMX, 1 OVF, 2 libvirt,
# 3 manifest); tests/integration/test_import.py holds the full examples.
here=$(cd "$(dirname "$0")" && pwd)
/usr/bin/python3 - "$out" "$here/../tests/integration" <<'PY'
import hashlib, io, sys, tarfile
sys.path.insert(0, sys.argv[2])
out = sys.argv[1]
src = open(sys.argv[2] + "/test_import.py").read()
def block(name):
    start = src.index(name + ' = """') + len(name) + 6
    return src[start:src.index('"""', start)]
ovf_start = src.index('return f"""') + 11
ovf = src[ovf_start:src.index('"""', ovf_start)].replace("{disk_name}", "disk1.vmdk") \
    .replace("{capacity}", "1048576").replace("{mac}", "00:50:56:12:34:56")
seeds = {"vmx": b"\0" + block("VMX").encode(), "ovf": b"\1" + ovf.encode(),
         "libvirt": b"\2" + block("LIBVIRT").replace("{qcow2}", "/x.qcow2").encode(),
         "manifest": b"\3SHA256(a.ovf)= " + hashlib.sha256(b"").hexdigest().encode() +
                     b"\nSHA1(d.vmdk)= " + hashlib.sha1(b"").hexdigest().encode() + b"\n"}
def config(test_file, name):
    text = open(sys.argv[2] + "/" + test_file).read()
    start = text.index(name + ' = """') + len(name) + 6
    return text[start:text.index('"""', start)].replace("\\\n", "\n")
seeds["xl"] = b"\4" + config("test_import_xl.py", "CONFIG").replace("{root}", "/r.qcow2").encode()
seeds["storage_cfg"] = b"\5dir: local\n\tpath /var/lib/vz\n\nlvmthin: local-lvm\n\tvgname pve\n"
seeds["proxmox"] = b"\6" + config("test_import_proxmox.py", "CONF").encode()
seeds["qemu"] = b"\7" + config("test_import_qemu.py", "SCRIPT").encode()
for name, data in seeds.items():
    open(f"{out}/vm_descriptions/{name}", "wb").write(data)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in [("a.ovf", ovf.encode()), ("a.mf", seeds["manifest"][1:])]:
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
open(f"{out}/tar/package.ova", "wb").write(buf.getvalue())
PY

# Guest fix-ups: an MBR and a GPT (0 + sectors), fstab text (1), a gzip
# initramfs (2).
/usr/bin/python3 - "$out" "$here/../tests/integration" <<'PY'
import gzip, sys
sys.path.insert(0, sys.argv[2])
from image_helpers import build_disk
out = sys.argv[1]
for scheme in ("mbr", "gpt"):
    path = f"{out}/guest_fixup/{scheme}.disk"
    build_disk(path, [bytes(512 * 8), bytes(512 * 4)], scheme)
    data = open(path, "rb").read()[:34 * 512]
    open(f"{out}/guest_fixup/{scheme}", "wb").write(b"\0" + data)
    import os; os.unlink(path)
open(f"{out}/guest_fixup/fstab", "wb").write(
    b"\1/dev/xvda1 / ext4 defaults 0 1\n/dev/sda2 /srv ext4 defaults 0 2\nroot=/dev/hdc3 ro\n")
open(f"{out}/guest_fixup/initramfs", "wb").write(
    b"\2" + b"070701" + bytes(100) + gzip.compress(b"070701 kernel/drivers/block/virtio_blk.ko"))
PY

# An LVM2 physical volume laid out as lvm2 writes one (label in sector 1, a
# metadata area at 4 KiB with its text), and the text alone.
python3 - "$out" <<'PY'
import struct, sys, zlib
out = sys.argv[1]
def crc(b): return (~zlib.crc32(b, (~0xf597a6cf) & 0xffffffff)) & 0xffffffff
text = (b'vg0 {\nid = "x"\nseqno = 3\nextent_size = 8\nphysical_volumes {\npv0 {\n'
        b'id = "BjFipQ-3jek-ICVx-l5I8-vbxh-eSqE-a3RQB2"\npe_start = 32\n}\n}\n'
        b'logical_volumes {\nroot {\nsegment1 {\nstart_extent = 0\nextent_count = 2\n'
        b'type = "striped"\nstripe_count = 1\nstripes = ["pv0", 0]\n}\n}\n}\n}\nversion = 1\n')
pv = bytearray(24 * 1024)
label = bytearray(512)
label[0:8] = b"LABELONE"; struct.pack_into("<QII", label, 8, 1, 0, 32); label[24:32] = b"LVM2 001"
label[32:64] = b"BjFipQ3jekICVxl5I8vbxheSqEa3RQB2"
struct.pack_into("<QQQQQQQQQ", label, 64, len(pv), 16384, 0, 0, 0, 4096, 8192, 0, 0)
struct.pack_into("<I", label, 16, crc(bytes(label[20:])))
pv[512:1024] = label
h = bytearray(512)
h[4:20] = b" LVM2 x[5A%r0N*>"
struct.pack_into("<IQQQQII", h, 20, 1, 4096, 8192, 512, len(text), crc(text), 0)
struct.pack_into("<I", h, 0, crc(bytes(h[4:])))
pv[4096:4608] = h
pv[4096 + 512:4096 + 512 + len(text)] = text
open(f"{out}/lvm/pv", "wb").write(bytes(pv))
open(f"{out}/lvm/text", "wb").write(text)
PY
