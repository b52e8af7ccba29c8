// The record a block-migration destination keeps beside a disk copy that is
// not finished yet (IMAGE.ferry-partial): which copy it belongs to and which
// chunks are safely on disk. Its presence also marks the image as incomplete,
// so that nothing boots it by mistake; it is removed once the VM runs here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace ferry::migration {

struct PartialCopy {
  std::array<uint8_t, 16> session{};
  uint64_t size_bytes = 0;
  uint32_t chunk_bytes = 0;
  std::vector<uint64_t> present;  // one bit a chunk
};

std::string PartialCopyPath(const std::string& image);
// Nothing (no record, or one that is damaged: then nothing is trusted).
std::optional<PartialCopy> LoadPartialCopy(const std::string& image);
// Written under a temporary name and renamed, so a crash leaves the old or the new record.
Status SavePartialCopy(const std::string& image, const PartialCopy& copy);
Status RemovePartialCopy(const std::string& image);

}  // namespace ferry::migration
