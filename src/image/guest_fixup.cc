#include "image/guest_fixup.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "image/device_names.h"
#include "image/ext_fs.h"
#include "image/file.h"
#include "image/initramfs_scan.h"
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

struct Volume {
  int disk = 0;
  Partition part;
  std::string path;  // the raw disk
  std::string uuid;  // ext or swap
  bool ext = false;
  std::string name() const {
    return "disk " + std::to_string(disk) +
           (part.number ? " partition " + std::to_string(part.number) : "");
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
    Volume v{disk, p, path, "", false};
    if (Result<ExtFs> fs = ExtFs::Open(path, p.start, false); fs.ok()) {
      v.ext = true;
      v.uuid = fs->uuid();
    } else {
      v.uuid = SwapUuid(*file, p.start, p.size);
    }
    out.push_back(v);
  }
}

Status RewriteFile(ExtFs& fs, const Volume& v, const std::string& file, const UuidFor& uuid_for,
                   FixupReport& report) {
  Result<std::optional<std::string>> text = fs.ReadFile(file, kMaxConfig);
  if (!text.ok()) {
    report.warnings.push_back(v.name() + ": " + file + " not rewritten: " + text.error().message());
    return OkStatus();
  }
  if (!*text) return OkStatus();
  Rewrite r = RewriteDeviceNames(**text, uuid_for);
  if (r.changes == 0) return OkStatus();
  RETURN_IF_ERROR(fs.WriteFile(file, r.text));
  report.changes.push_back(v.name() + ": " + file + ": " + std::to_string(r.changes) +
                           " device name(s) rewritten");
  return OkStatus();
}

// Where kernel version `version`'s virtio_blk lives, searched on every
// volume (/lib/modules is on the root filesystem, the kernel maybe on /boot).
std::string VirtioBlkFor(const std::string& version, const std::vector<Volume>& volumes) {
  for (const Volume& v : volumes) {
    if (!v.ext) continue;
    Result<ExtFs> fs = ExtFs::Open(v.path, v.part.start, false);
    if (!fs.ok()) continue;
    const std::string dir = "/lib/modules/" + version;
    Result<std::optional<std::string>> builtin = fs->ReadFile(dir + "/modules.builtin", kMaxConfig);
    if (builtin.ok() && *builtin && (*builtin)->find("virtio_blk.ko") != std::string::npos) {
      return "built in";
    }
    Result<std::vector<std::string>> block = fs->List(dir + "/kernel/drivers/block");
    if (block.ok()) {
      for (const std::string& name : *block) {
        if (name.rfind("virtio_blk.ko", 0) == 0) return "module";
      }
    }
  }
  return "";
}

void CheckKernels(const std::vector<Volume>& volumes, FixupReport& report) {
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
        std::string driver = VirtioBlkFor(version, volumes);
        std::string line = "kernel " + version + " (" + v.name() + "): virtio_blk ";
        if (driver.empty()) {
          report.unbootable.push_back(line +
                                      "missing: this kernel will not find its disk under KVM");
          continue;
        }
        line += driver;
        if (driver == "module") {
          std::string initrd;
          for (const std::string& candidate :
               {prefix + "initrd.img-" + version, prefix + "initramfs-" + version + ".img"}) {
            Result<std::optional<std::string>> data = fs->ReadFile(candidate, kMaxInitramfs);
            if (data.ok() && *data) {
              ScanResult s = ScanInitramfs(**data, "virtio_blk");
              initrd = s == ScanResult::kFound      ? "; initramfs includes it"
                       : s == ScanResult::kNotFound ? "; initramfs lacks it: rebuild the initramfs "
                                                      "with virtio drivers before booting"
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
        if (v.disk == disk && v.part.number == partition && !v.uuid.empty())
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
                                "unchanged: run e2fsck on it, then import again");
      continue;
    }
    RETURN_IF_ERROR(RewriteFile(*fs, v, kFstab, uuid_for, report));
    for (const char* file : kBootFiles) RETURN_IF_ERROR(RewriteFile(*fs, v, file, nullptr, report));
    RETURN_IF_ERROR(fs->Close());
  }
  CheckKernels(volumes, report);
  if (std::none_of(volumes.begin(), volumes.end(), [](const Volume& v) { return v.ext; })) {
    report.warnings.push_back("no ext2/3/4 filesystem found: no guest fix-ups were made");
  }
  return report;
}

}  // namespace ferry::image
