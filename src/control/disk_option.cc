#include "control/disk_option.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"
#include "image/image.h"
#include "migration/partial_copy.h"

namespace ferry {

Result<DiskSpec> ParseDiskOption(const std::string& value) {
  DiskSpec spec;
  size_t comma = value.find(',');
  spec.path = value.substr(0, comma);
  if (spec.path.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--disk '" + value + "': give a PATH first");
  }
  while (comma != std::string::npos) {
    size_t next = value.find(',', comma + 1);
    std::string item = value.substr(comma + 1, next == std::string::npos ? next : next - comma - 1);
    if (item == "readonly" || item == "ro") {
      spec.read_only = true;
    } else if (item == "format=raw") {
      spec.raw_confirmed = true;
    } else if (item.rfind("format=", 0) == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "--disk '" + value +
                       "': ferry runs raw images only; convert with ferry "
                       "image convert -O raw");
    } else if (item.rfind("serial=", 0) == 0 && item.size() > 7 && item.size() <= 7 + 20) {
      spec.serial = item.substr(7);
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   "--disk '" + value + "': unknown setting '" + item +
                       "' (PATH[,readonly][,serial=ID of 1-20 bytes][,format=raw])");
    }
    comma = next;
  }
  return spec;
}

Result<std::vector<DiskSpec>> ParseDiskOptions(const std::vector<std::string>& values) {
  std::vector<DiskSpec> specs;
  for (const std::string& value : values) {
    ASSIGN_OR_RETURN(DiskSpec spec, ParseDiskOption(value));
    specs.push_back(std::move(spec));
  }
  return specs;
}

namespace {

bool StartsWithVhdCookie(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char cookie[8] = {};
  return fd.valid() && ::pread(fd.get(), cookie, sizeof cookie, 0) == sizeof cookie &&
         std::memcmp(cookie, "conectix", 8) == 0;
}

}  // namespace

Status RefuseUnfinishedCopies(const std::vector<DiskSpec>& disks) {
  for (const DiskSpec& d : disks) {
    if (::access(migration::PartialCopyPath(d.path).c_str(), F_OK) == 0) {
      return Error(ErrorCode::kFailedPrecondition,
                   d.path +
                       " is an unfinished copy from an interrupted block migration; run "
                       "ferry receive and ferry migrate --copy-storage again to finish it");
    }
  }
  return OkStatus();
}

// A guest that sees a qcow2 file as a raw disk overwrites its metadata on
// the first write; QEMU warns about the same probe, ferry refuses.
Status RefuseImageFormats(const std::vector<DiskSpec>& disks) {
  for (const DiskSpec& d : disks) {
    struct stat st {};
    if (d.raw_confirmed || ::stat(d.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    Result<image::Format> format = image::ProbeFormat(d.path);
    if (!format.ok() || *format == image::Format::kRaw) continue;
    // A fixed VHD is raw bytes with a footer: usable as it is.
    if (*format == image::Format::kVhd && !StartsWithVhdCookie(d.path)) continue;
    return Error(ErrorCode::kFailedPrecondition,
                 d.path + " is a " + image::FormatName(*format) +
                     " image and ferry runs raw disks: ferry image convert -O raw " + d.path +
                     " OUT.raw (or --disk " + d.path + ",format=raw if it really is raw)");
  }
  return OkStatus();
}

Status CheckDisksOpen(const std::vector<DiskSpec>& disks) {
  for (const DiskSpec& d : disks) {
    RETURN_IF_ERROR(RawDisk::Open(d, /*lock=*/false));
  }
  return OkStatus();
}

}  // namespace ferry
