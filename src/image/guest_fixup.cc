#include "image/guest_fixup.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "image/device_names.h"
#include "image/ext_fs.h"
#include "image/file.h"
#include "image/initramfs_scan.h"
#include "image/lvm.h"
#include "image/partitions.h"
#include "image/undo_log.h"

namespace ferry::image {
namespace {

constexpr uint64_t kMaxConfig = 4 << 20;
constexpr uint64_t kMaxInitramfs = 512 << 20;

// The files that name the root and other disks.
constexpr const char* kFstab = "/etc/fstab";
constexpr const char* kBootFiles[] = {"/boot/grub/grub.cfg",
                                      "/boot/grub2/grub.cfg",
                                      "/boot/grub/menu.lst",
                                      "/etc/default/grub",
                                      "/boot/extlinux/extlinux.conf",
                                      "/grub/grub.cfg",
                                      "/grub2/grub.cfg",
                                      "/grub/menu.lst",
                                      "/extlinux/extlinux.conf"};

// The kernel module that drives the disks of the platform the guest moves
// to, where a kernel tree keeps it, and the platform's name for the report.
struct DiskDriver {
  const char* module;  // "virtio_blk"
  const char* dir;     // under /lib/modules/VERSION/kernel
  const char* platform;
  const char* needed;  // what an initramfs must be rebuilt with
};

DiskDriver DriverFor(DiskNaming naming) {
  if (naming == DiskNaming::kHyperV) {
    return {"hv_storvsc", "drivers/scsi", "Hyper-V", "Hyper-V's storage driver"};
  }
  if (naming == DiskNaming::kXen) {
    return {"xen-blkfront", "drivers/block", "Xen", "Xen's PV block driver"};
  }
  if (naming == DiskNaming::kScsi) {
    return {"mptspi", "drivers/message/fusion", "VMware's LSI Logic SCSI controller",
            "the mptspi driver"};
  }
  return {"virtio_blk", "drivers/block", "KVM", "virtio drivers"};
}

struct Volume {
  int disk = 0;
  Partition part;    // for a logical volume: the range it occupies on the disk
  std::string path;  // the raw disk
  std::string uuid;  // ext or swap
  bool ext = false;
  std::string lv;  // "vg/name" for an LVM logical volume inside `part`
  std::string name() const {
    return "disk " + std::to_string(disk) +
           (part.number ? " partition " + std::to_string(part.number) : "") +
           (lv.empty() ? "" : " LV " + lv);
  }
};

// A Linux swap area's UUID ("SWAPSPACE2" at the end of its first page).
std::string SwapUuid(const ImageFile& disk, uint64_t offset, uint64_t size) {
  uint8_t page[4096];
  if (size < sizeof page || !disk.ReadAt(offset, page, "swap header").ok()) return "";
  if (std::memcmp(page + 4086, "SWAPSPACE2", 10) != 0) return "";
  const uint8_t* u = page + 1036;
  char buf[40];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  return buf;
}

// Filesystems ferry sees but cannot change (no library for them here).
std::string OtherFilesystem(const ImageFile& disk, uint64_t offset, uint64_t size) {
  uint8_t magic[8];
  if (size >= 4 && disk.ReadAt(offset, std::span<uint8_t>(magic, 4), "superblock").ok() &&
      std::memcmp(magic, "XFSB", 4) == 0) {
    return "XFS";
  }
  if (size >= 0x10048 && disk.ReadAt(offset + 0x10040, magic, "superblock").ok() &&
      std::memcmp(magic, "_BHRfS_M", 8) == 0) {
    return "Btrfs";
  }
  return "";
}

// Classifies the volume at v.part (ext, swap, another filesystem) and adds it.
void AddVolume(const ImageFile& file, Volume v, std::vector<Volume>& out, FixupReport& report) {
  if (Result<ExtFs> fs = ExtFs::Open(v.path, v.part.start, false); fs.ok()) {
    v.ext = true;
    v.uuid = fs->uuid();
  } else {
    v.uuid = SwapUuid(file, v.part.start, v.part.size);
  }
  if (!v.ext && v.uuid.empty()) {
    std::string other = OtherFilesystem(file, v.part.start, v.part.size);
    if (!other.empty()) {
      report.warnings.push_back(v.name() + ": " + other +
                                " filesystem not inspected (ferry fixes ext2/3/4 only): check "
                                "its /etc/fstab and boot loader by hand");
    }
  }
  out.push_back(v);
}

// The logical volumes of an LVM physical volume at `pv`, each as a volume
// of its own when it is one contiguous run on the disk.
bool AddLogicalVolumes(const ImageFile& file, const Volume& pv, std::vector<Volume>& out,
                       FixupReport& report) {
  auto read = [&](uint64_t offset, std::span<uint8_t> bytes) {
    if (offset > pv.part.size || bytes.size() > pv.part.size - offset) {
      return Status(Error(ErrorCode::kCorrupt, "LVM structure past the end of the partition"));
    }
    return file.ReadAt(pv.part.start + offset, bytes, "LVM metadata");
  };
  Result<std::optional<LvmPhysicalVolume>> lvm = ReadLvmPhysicalVolume(pv.part.size, read);
  if (!lvm.ok()) {
    report.warnings.push_back(pv.name() + ": " + lvm.error().message());
    return true;
  }
  if (!*lvm) return false;
  for (const LvmLogicalVolume& lv : (*lvm)->lvs) {
    Volume v = pv;
    v.lv = (*lvm)->vg + "/" + lv.name;
    if (!lv.linear) {
      report.warnings.push_back(v.name() + " not inspected: " + lv.why_not);
      continue;
    }
    v.part.start = pv.part.start + lv.offset;
    v.part.size = lv.size;
    AddVolume(file, v, out, report);
  }
  return true;
}

void FindVolumes(const std::string& path, int disk, std::vector<Volume>& out, FixupReport& report) {
  Result<ImageFile> file = ImageFile::Open(path, false);
  if (!file.ok()) {
    report.warnings.push_back("disk " + std::to_string(disk) + ": " + file.error().message());
    return;
  }
  Result<PartitionTable> table = ReadPartitions(*file);
  if (!table.ok()) {
    report.warnings.push_back("disk " + std::to_string(disk) + ": " + table.error().message());
    return;
  }
  for (const Partition& p : table->partitions) {
    Volume v{disk, p, path, "", false, ""};
    if (AddLogicalVolumes(*file, v, out, report)) continue;
    AddVolume(*file, v, out, report);
  }
}

// The first field of the fstab line whose mount point is "/".
std::string RootDevice(const std::string& fstab) {
  size_t at = 0;
  while (at < fstab.size()) {
    size_t nl = fstab.find('\n', at);
    std::string line = fstab.substr(at, nl == std::string::npos ? nl : nl - at);
    at = nl == std::string::npos ? fstab.size() : nl + 1;
    size_t a = line.find_first_not_of(" \t");
    if (a == std::string::npos || line[a] == '#') continue;
    size_t b = line.find_first_of(" \t", a);
    if (b == std::string::npos) continue;
    size_t c = line.find_first_not_of(" \t", b);
    if (c == std::string::npos) continue;
    size_t d = line.find_first_of(" \t", c);
    if (line.substr(c, d == std::string::npos ? d : d - c) == "/") return line.substr(a, b - a);
  }
  return "";
}

Status RewriteFile(ExtFs& fs, const Volume& v, const std::string& file, const UuidFor& uuid_for,
                   DiskNaming naming, FixupReport& report) {
  Result<std::optional<std::string>> text = fs.ReadFile(file, kMaxConfig);
  if (!text.ok()) {
    report.warnings.push_back(v.name() + ": " + file + " not rewritten: " + text.error().message());
    return OkStatus();
  }
  if (!*text) return OkStatus();
  Rewrite r = RewriteDeviceNames(**text, uuid_for, naming);
  if (file == kFstab && report.root_device.empty()) report.root_device = RootDevice(r.text);
  if (r.changes == 0) return OkStatus();
  RETURN_IF_ERROR(fs.WriteFile(file, r.text));
  report.changes.push_back(v.name() + ": " + file + ": " + std::to_string(r.changes) +
                           " device name(s) rewritten");
  return OkStatus();
}

// Where kernel version `version`'s disk driver lives, searched on every
// volume (/lib/modules is on the root filesystem, the kernel maybe on /boot).
std::string DriverFor(const DiskDriver& driver, const std::string& version,
                      const std::vector<Volume>& volumes) {
  const std::string ko = std::string(driver.module) + ".ko";
  for (const Volume& v : volumes) {
    if (!v.ext) continue;
    Result<ExtFs> fs = ExtFs::Open(v.path, v.part.start, false);
    if (!fs.ok()) continue;
    const std::string dir = "/lib/modules/" + version;
    Result<std::optional<std::string>> builtin = fs->ReadFile(dir + "/modules.builtin", kMaxConfig);
    if (builtin.ok() && *builtin && (*builtin)->find(ko) != std::string::npos) {
      return "built in";
    }
    Result<std::vector<std::string>> block = fs->List(dir + "/kernel/" + driver.dir);
    if (block.ok()) {
      for (const std::string& name : *block) {
        if (name.rfind(ko, 0) == 0) return "module";
      }
    }
  }
  return "";
}

void CheckKernels(const DiskDriver& disk_driver, const std::vector<Volume>& volumes,
                  FixupReport& report) {
  for (const Volume& v : volumes) {
    if (!v.ext) continue;
    Result<ExtFs> fs = ExtFs::Open(v.path, v.part.start, false);
    if (!fs.ok()) continue;
    for (const char* boot : {"/boot", "/"}) {
      Result<std::vector<std::string>> names = fs->List(boot);
      if (!names.ok()) continue;
      std::string prefix = std::strcmp(boot, "/") == 0 ? "/" : std::string(boot) + "/";
      for (const std::string& name : *names) {
        if (name.rfind("vmlinuz-", 0) != 0) continue;
        std::string version = name.substr(8);
        std::string driver = DriverFor(disk_driver, version, volumes);
        std::string line = "kernel " + version + " (" + v.name() + "): " + disk_driver.module + " ";
        if (driver.empty()) {
          report.unbootable.push_back(line + "missing: this kernel will not find its disk under " +
                                      disk_driver.platform);
          continue;
        }
        line += driver;
        if (driver == "module") {
          std::string initrd;
          for (const std::string& candidate :
               {prefix + "initrd.img-" + version, prefix + "initramfs-" + version + ".img"}) {
            Result<std::optional<std::string>> data = fs->ReadFile(candidate, kMaxInitramfs);
            if (data.ok() && *data) {
              ScanResult s = ScanInitramfs(**data, disk_driver.module);
              initrd = s == ScanResult::kFound ? "; initramfs includes it"
                       : s == ScanResult::kNotFound
                           ? std::string("; initramfs lacks it: rebuild the initramfs with ") +
                                 disk_driver.needed + " before booting"
                           : "; initramfs not inspected (compression)";
              break;
            }
          }
          line += initrd.empty() ? "; no initramfs found" : initrd;
        }
        (line.find("lacks it") == std::string::npos ? report.kernels : report.unbootable)
            .push_back(line);
      }
    }
  }
}

}  // namespace

Result<FixupReport> FixGuest(const std::vector<std::string>& raw_disks,
                             const FixupOptions& options) {
  FixupReport report;
  std::vector<Volume> volumes;
  for (size_t i = 0; i < raw_disks.size(); ++i) FindVolumes(raw_disks[i], int(i), volumes, report);
  UuidFor uuid_for;
  if (options.fstab_uuid) {
    uuid_for = [&volumes](int disk, int partition) -> std::optional<std::string> {
      for (const Volume& v : volumes) {
        if (v.disk == disk && v.part.number == partition && v.lv.empty() && !v.uuid.empty())
          return "UUID=" + v.uuid;
      }
      return std::nullopt;
    };
  }
  for (const Volume& v : volumes) {
    if (!v.ext) continue;
    Result<ExtFs> fs =
        ExtFs::Open(v.path, v.part.start, true,
                    options.undo && options.undo->disk_path() == v.path ? options.undo : nullptr);
    if (!fs.ok()) {
      report.warnings.push_back(v.name() + ": " + fs.error().message());
      continue;
    }
    if (fs->needs_recovery()) {
      report.warnings.push_back(v.name() +
                                ": the journal needs recovery (not shut down cleanly); left "
                                "unchanged: run e2fsck on it, then run this command again");
      continue;
    }
    RETURN_IF_ERROR(RewriteFile(*fs, v, kFstab, uuid_for, options.naming, report));
    for (const char* file : kBootFiles) {
      RETURN_IF_ERROR(RewriteFile(*fs, v, file, nullptr, options.naming, report));
    }
    RETURN_IF_ERROR(fs->Close());
  }
  CheckKernels(DriverFor(options.naming), volumes, report);
  if (std::none_of(volumes.begin(), volumes.end(), [](const Volume& v) { return v.ext; })) {
    report.warnings.push_back("no ext2/3/4 filesystem found: no guest fix-ups were made");
  }
  return report;
}

}  // namespace ferry::image
