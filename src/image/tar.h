// Reads the member list of a tar archive (an OVA package): POSIX ustar with
// GNU long names ('L') and pax path records ('x'). Hostile input: header
// checksums are verified, sizes (octal or base-256) are checked against the
// file, and names that could escape a directory are refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "image/file.h"

namespace ferry::image {

struct TarMember {
  std::string name;     // "./" prefix removed
  uint64_t offset = 0;  // of the data within the archive
  uint64_t size = 0;
};

// The regular files of the archive, in archive order.
Result<std::vector<TarMember>> ListTar(const ImageFile& archive);

}  // namespace ferry::image
