#include "image/file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace ferry::image {

Result<ImageFile> ImageFile::Open(const std::string& path, bool writable) {
  int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path);
  Fd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError("stat " + path);
  if (S_ISDIR(st.st_mode)) return Error(ErrorCode::kInvalidArgument, path + " is a directory");
  return ImageFile(std::move(owned), path, S_ISBLK(st.st_mode));
}

Result<ImageFile> ImageFile::Create(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create " + path);
  return ImageFile(Fd(fd), path, false);
}

Result<uint64_t> ImageFile::Size() const {
  if (block_device_) {
    uint64_t bytes = 0;
    if (::ioctl(fd(), BLKGETSIZE64, &bytes) != 0) return ErrnoError("BLKGETSIZE64 " + path_);
    return bytes;
  }
  struct stat st;
  if (::fstat(fd(), &st) != 0) return ErrnoError("stat " + path_);
  return static_cast<uint64_t>(st.st_size);
}

Result<uint64_t> ImageFile::AllocatedBytes() const {
  struct stat st;
  if (::fstat(fd(), &st) != 0) return ErrnoError("stat " + path_);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

Result<size_t> ImageFile::ReadSomeAt(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd(), out.data() + done, out.size() - done, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read " + path_ + " at offset " + std::to_string(offset + done));
    }
    if (n == 0) break;
    done += size_t(n);
  }
  return done;
}

Status ImageFile::ReadAt(uint64_t offset, std::span<uint8_t> out, const char* what) const {
  ASSIGN_OR_RETURN(size_t got, ReadSomeAt(offset, out));
  if (got != out.size()) {
    return Error(ErrorCode::kCorrupt, path_ + ": " + what + " at offset " + std::to_string(offset) +
                                          " (" + std::to_string(out.size()) +
                                          " bytes) lies past the end of the file");
  }
  return OkStatus();
}

Status ImageFile::WriteAt(uint64_t offset, std::span<const uint8_t> data) const {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd(), data.data() + done, data.size() - done, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write " + path_ + " at offset " + std::to_string(offset + done));
    }
    done += size_t(n);
  }
  return OkStatus();
}

Status ImageFile::Truncate(uint64_t size) const {
  if (::ftruncate(fd(), off_t(size)) != 0) return ErrnoError("truncate " + path_);
  return OkStatus();
}

Status ImageFile::ZeroRange(uint64_t offset, uint64_t length) const {
  if (length == 0) return OkStatus();
  if (block_device_) {
    uint64_t range[2] = {offset, length};
    if (::ioctl(fd(), BLKZEROOUT, range) == 0) return OkStatus();
  } else if (::fallocate(fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset),
                         off_t(length)) == 0) {
    return OkStatus();
  }
  // The file system cannot do it: write zeros, a megabyte at a time.
  std::vector<uint8_t> zeros(std::min<uint64_t>(length, 1 << 20));
  while (length > 0) {
    size_t n = size_t(std::min<uint64_t>(length, zeros.size()));
    RETURN_IF_ERROR(WriteAt(offset, {zeros.data(), n}));
    offset += n;
    length -= n;
  }
  return OkStatus();
}

Status ImageFile::Sync() const {
  if (!sync_) return OkStatus();
  if (::fsync(fd()) != 0) return ErrnoError("fsync " + path_);
  return OkStatus();
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string ResolveRelative(const std::string& relative_to, const std::string& name) {
  if (!name.empty() && name[0] == '/') return name;
  return DirName(relative_to) + "/" + name;
}

}  // namespace ferry::image
