// A raw disk image (regular file or block device) opened for a virtio-blk
// device, with an open-file-description lock so that two VMs can never write
// the same image: exclusive for read-write, shared for read-only (several
// read-only users may share an image, never alongside a writer).
#pragma once

#include <cstdint>
#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace ferry {

struct DiskSpec {
  std::string path;
  bool read_only = false;
  std::string serial;  // empty: derived from the path
  // The user said `format=raw`: the image's first bytes may look like
  // another format's header (a guest may write one) and it is still raw.
  bool raw_confirmed = false;
};

class RawDisk {
 public:
  // Opens, checks (a regular file or block device, not empty, a multiple of
  // 512 bytes) and, with `lock`, locks the image. Errors are one line naming
  // the path.
  static Result<RawDisk> Open(const DiskSpec& spec, bool lock = true);

  // Shared storage at a migration's switchover: the source flushes and
  // releases its lock before handing over, the destination takes it after.
  Status Lock();
  Status Release();
  bool locked() const { return locked_; }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  bool read_only() const { return read_only_; }
  // At most 20 bytes (VIRTIO_BLK_ID_BYTES): the one given, or "ferry-" and a
  // CRC32C of the canonical path, stable across runs of the same image.
  const std::string& serial() const { return serial_; }

 private:
  RawDisk(Fd fd, std::string path, uint64_t size, bool read_only, std::string serial)
      : fd_(std::move(fd)),
        path_(std::move(path)),
        size_(size),
        read_only_(read_only),
        serial_(std::move(serial)) {}
  Fd fd_;
  std::string path_;
  uint64_t size_;
  bool read_only_;
  std::string serial_;
  bool locked_ = false;
};

}  // namespace ferry
