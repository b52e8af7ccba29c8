// Writes a POSIX ustar archive (an OVA package): regular files only, in the
// order they are added, because the OVF spec fixes the order (descriptor,
// manifest, then the disks). Member names must be plain file names of at
// most 100 bytes; sizes that do not fit ustar's 11 octal digits (8 GiB and
// more) are stored base-256, as GNU tar and ListTar read them.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "base/result.h"
#include "image/file.h"

namespace ferry::image {

class TarWriter {
 public:
  // Creates `path`, which must not exist.
  static Result<TarWriter> Create(const std::string& path);

  // A member holding `data`.
  Status Add(const std::string& name, std::span<const uint8_t> data);
  Status Add(const std::string& name, const std::string& text);
  // A member copied from the file at `path`; `tap` (may be empty) sees every
  // byte on the way, e.g. to digest it.
  Status AddFile(const std::string& name, const std::string& path,
                 const std::function<void(std::span<const uint8_t>)>& tap = nullptr);
  // Writes the two zero blocks that end the archive and syncs the file.
  Status Finish();

 private:
  explicit TarWriter(ImageFile file) : file_(std::move(file)) {}
  Status Header(const std::string& name, uint64_t size);
  Status Pad(uint64_t size);
  ImageFile file_;
  uint64_t at_ = 0;
  int64_t mtime_ = 0;
};

// One 512-byte ustar header for a regular file, or an error for a name that
// is not a plain file name of at most 100 bytes.
Result<std::array<uint8_t, 512>> TarHeader(const std::string& name, uint64_t size, int64_t mtime);

}  // namespace ferry::image
