#include "devices/block/raw_disk.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/crc32c.h"

namespace ferry {
namespace {

constexpr size_t kSerialBytes = 20;

Error DiskError(const std::string& path, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "--disk " + path + ": " + what);
}

std::string DerivedSerial(const std::string& path) {
  char canonical[PATH_MAX];
  std::string name = ::realpath(path.c_str(), canonical) ? canonical : path;
  char serial[24];
  std::snprintf(serial, sizeof serial, "ferry-%08x",
                Crc32c({reinterpret_cast<const uint8_t*>(name.data()), name.size()}));
  return serial;
}

Status Lock(int fd, const std::string& path, bool read_only) {
  struct flock lock {};
  lock.l_type = read_only ? F_RDLCK : F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) return OkStatus();
  if (errno == EAGAIN || errno == EACCES) {
    return Error(ErrorCode::kFailedPrecondition,
                 "--disk " + path + " is locked by another process (is another VM using it?)");
  }
  return ErrnoError("--disk " + path + ": cannot lock");
}

Result<uint64_t> ImageSize(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return ErrnoError("--disk " + path + ": stat");
  if (S_ISDIR(st.st_mode)) return DiskError(path, "is a directory, not a disk image");
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) < 0) return ErrnoError("--disk " + path + ": size");
    return bytes;
  }
  if (!S_ISREG(st.st_mode)) return DiskError(path, "is not a regular file or block device");
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

Result<RawDisk> RawDisk::Open(const DiskSpec& spec) {
  const std::string& path = spec.path;
  if (spec.serial.size() > kSerialBytes) {
    return DiskError(path, "serial '" + spec.serial + "' is longer than 20 bytes");
  }
  int flags = (spec.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  Fd fd(::open(path.c_str(), flags));
  if (!fd.valid() && errno == EISDIR) return DiskError(path, "is a directory, not a disk image");
  if (!fd.valid() && errno == ENOENT) return DiskError(path, "no such file");
  if (!fd.valid() && (errno == EACCES || errno == EROFS || errno == EPERM) && !spec.read_only) {
    return DiskError(path, std::string("cannot open for writing (") + strerrordesc_np(errno) +
                               "); add ,readonly to use it read-only");
  }
  if (!fd.valid()) return ErrnoError("--disk " + path);
  ASSIGN_OR_RETURN(uint64_t size, ImageSize(fd.get(), path));
  if (size == 0) return DiskError(path, "is empty (0 bytes)");
  if (size % 512 != 0) {
    return DiskError(
        path, "is " + std::to_string(size) + " bytes, not a multiple of 512 (raw images only)");
  }
  RETURN_IF_ERROR(Lock(fd.get(), path, spec.read_only));
  std::string serial = spec.serial.empty() ? DerivedSerial(path) : spec.serial;
  return RawDisk(std::move(fd), path, size, spec.read_only, std::move(serial));
}

}  // namespace ferry
