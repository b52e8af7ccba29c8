// ImageFile: one open file under an image (the image itself, a backing file, an
// extent). Positional I/O only, so that any number of threads may share one.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace ferry::image {

class ImageFile {
 public:
  // Opens an existing file or block device.
  static Result<ImageFile> Open(const std::string& path, bool writable);
  // Creates a new regular file; refuses one that exists (O_EXCL).
  static Result<ImageFile> Create(const std::string& path);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  bool is_block_device() const { return block_device_; }

  // The current size in bytes (block devices: their capacity).
  Result<uint64_t> Size() const;
  // Bytes the host actually allocated for the file (st_blocks * 512).
  Result<uint64_t> AllocatedBytes() const;

  // Reads exactly out.size() bytes; reading past the end is an error naming
  // `what` so that a truncated image says which structure is missing.
  Status ReadAt(uint64_t offset, std::span<uint8_t> out, const char* what) const;
  // Reads up to out.size() bytes, returns how many (short only at end of file).
  Result<size_t> ReadSomeAt(uint64_t offset, std::span<uint8_t> out) const;
  Status WriteAt(uint64_t offset, std::span<const uint8_t> data) const;
  Status Truncate(uint64_t size) const;
  // Makes a range read as zeros without writing them where the file system can
  // (punch a hole); falls back to writing zeros.
  Status ZeroRange(uint64_t offset, uint64_t length) const;
  Status Sync() const;
  // Makes Sync() a no-op (convert -t unsafe: speed over durability).
  void DisableSync() { sync_ = false; }

 private:
  ImageFile(Fd fd, std::string path, bool block_device)
      : fd_(std::move(fd)), path_(std::move(path)), block_device_(block_device) {}
  Fd fd_;
  std::string path_;
  bool block_device_ = false;
  bool sync_ = true;
};

// The directory part of a path ("." when it has none), for backing files named
// relative to the image that refers to them.
std::string DirName(const std::string& path);
// `name` if absolute, else `name` relative to the directory of `relative_to`.
std::string ResolveRelative(const std::string& relative_to, const std::string& name);

}  // namespace ferry::image
