"""The V2V demo (`make demo-v2v`, no KVM needed): a Xen guest whose root
filesystem sits in an LVM logical volume and whose fstab names /dev/xvda1,
described by an xl configuration, comes into ferry (`ferry import`: disks
converted, fstab fixed inside the LV, MAC kept), goes out to VMware as an OVA
(`ferry export`: fstab renamed to /dev/sdX for the SCSI controller, a SHA256
manifest), and comes back again; every step prints its report, and the
guest's fstab is shown as each platform would see it."""
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from image_helpers import MiB, build_disk, debugfs_cat, mkfs_ext4  # noqa: E402

FSTAB = b"/dev/xvda1 /boot ext4 defaults 0 2\n/dev/mapper/VG-root / ext4 errors=remount-ro 0 1\n"


def step(title, *args):
    print(f"\n=== {title}\n$ ferry {' '.join(map(str, args))}", flush=True)
    r = subprocess.run([str(FERRY), *map(str, args)], capture_output=True, text=True)
    print(r.stdout + r.stderr, end="", flush=True)
    if r.returncode != 0:
        sys.exit(f"demo: ferry {args[0]} failed ({r.returncode})")
    return r


def lvm(*args):
    env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")
    subprocess.run(list(map(str, args)), check=True, capture_output=True, env=env)


def make_guest(d):
    """boot (ext4) + an LVM PV holding the root LV (ext4 with the fstab),
    made by lvm2 itself on a loop device, without device-mapper."""
    vg = f"demo{os.getpid()}"
    pv = d / "pv.img"
    with open(pv, "wb") as f:
        f.truncate(48 * MiB)
    dev = subprocess.run(["losetup", "-f", "--show", str(pv)], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        lvm("pvcreate", "-ff", "-y", dev)
        lvm("vgcreate", "-s", "4m", vg, dev)
        lvm("lvcreate", "--driverloaded", "n", "-an", "-Zn", "-L", "24m", "-n", "root", vg)
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)
    fstab = FSTAB.replace(b"VG", vg.encode())
    root = mkfs_ext4(d / "root.img", 24 * MiB, {"etc/fstab": fstab, "etc/hostname": b"xen-web\n"},
                     "root")
    with open(pv, "r+b") as f:
        f.seek(MiB)  # pe_start 1 MiB, the LV at the first extent
        f.write(root.read_bytes())
    boot = mkfs_ext4(d / "boot.img", 8 * MiB,
                     {"grub/grub.cfg": b"linux /vmlinuz root=/dev/mapper/" + vg.encode() +
                      b"-root ro\n"}, "boot")
    disk = d / "xen-web.raw"
    spans = build_disk(disk, [boot.read_bytes(), pv.read_bytes()], "mbr")
    return disk, spans[1][0] + MiB


def main():
    if os.geteuid() != 0 or not shutil.which("pvcreate"):
        sys.exit("demo-v2v: needs root and lvm2 (scripts/install-deps.sh installs lvm2)")
    d = pathlib.Path(tempfile.mkdtemp(prefix="ferry-v2v-"))
    disk, root_at = make_guest(d)
    qcow2 = d / "xen-web.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", disk, qcow2], check=True)
    cfg = d / "xen-web.cfg"
    cfg.write_text(f"name = 'xen-web'\ntype = 'pvh'\nmemory = 1024\nvcpus = 2\n"
                   f"disk = [ 'tap:qcow2:{qcow2},xvda,w' ]\n"
                   f"vif = [ 'mac=00:16:3e:5a:01:02,bridge=xenbr0' ]\n")
    print(f"A Xen guest: {cfg}\n{cfg.read_text()}")
    print("its fstab (inside the LVM root LV):")
    print(debugfs_cat(disk, root_at, "/etc/fstab").decode())
    step("look first", "import", cfg, "--dry-run")
    step("into ferry", "import", cfg, "--out", d / "vm")
    print("fstab as ferry's guest sees it:")
    print(debugfs_cat(d / "vm" / "disk0.raw", root_at, "/etc/fstab").decode())
    step("out to VMware", "export", d / "vm", "--to", "ova", "--out", d / "xen-web.ova")
    with tarfile.open(d / "xen-web.ova") as t:
        t.extract("xen-web-disk0.vmdk", d)
    subprocess.run(["qemu-img", "convert", "-O", "raw", d / "xen-web-disk0.vmdk",
                    d / "vmware.raw"], check=True)
    print("fstab as the VMware guest sees it (LSI Logic SCSI):")
    print(debugfs_cat(d / "vmware.raw", root_at, "/etc/fstab").decode())
    step("back into ferry", "import", d / "xen-web.ova", "--out", d / "vm2")
    print("fstab after the round trip:")
    print(debugfs_cat(d / "vm2" / "disk0.raw", root_at, "/etc/fstab").decode())
    print(f"(everything is in {d})")


if __name__ == "__main__":
    main()
