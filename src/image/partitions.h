// The partitions of a disk image (raw, read through an ImageFile): MBR
// (primary entries 1-4, logical partitions 5+ through the extended chain)
// and GPT (UEFI specification 2.x chapter 5: header at LBA 1 with CRC32,
// entry array with CRC32, 1-based numbers by entry index). A disk without
// a table is one "partition" 0 spanning the whole disk. Hostile input:
// entries past the end of the disk are refused, extended chains that loop
// or run longer than 128 links are cut with an error.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "image/file.h"

namespace ferry::image {

struct Partition {
  int number = 0;      // as Linux numbers them (sda1, sda5...); 0: the whole disk
  uint64_t start = 0;  // bytes
  uint64_t size = 0;
  uint8_t mbr_type = 0;  // MBR only
};

struct PartitionTable {
  std::string scheme;  // "mbr", "gpt" or "none"
  std::vector<Partition> partitions;
};

Result<PartitionTable> ReadPartitions(const ImageFile& disk);

// The parsers on bytes, for unit tests and fuzzing. `read` fetches 512-byte
// sectors (LBA) of a disk of `disk_size` bytes.
using SectorReader = std::function<Status(uint64_t lba, std::span<uint8_t> out)>;
Result<PartitionTable> ParsePartitions(uint64_t disk_size, const SectorReader& read);

}  // namespace ferry::image
