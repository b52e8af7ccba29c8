#include "image/partitions.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "base/endian.h"

namespace ferry::image {
namespace {

constexpr uint64_t kSector = 512;
constexpr int kMaxLogical = 128;
constexpr uint32_t kMaxGptEntries = 1024;

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "partition table: " + what);
}

bool IsExtended(uint8_t type) {
  return type == 0x05 || type == 0x0f || type == 0x85;
}

uint32_t Crc32(std::span<const uint8_t> data) {
  return uint32_t(::crc32(0, data.data(), uInt(data.size())));
}

Status CheckRange(uint64_t lba, uint64_t sectors, uint64_t disk_size, const std::string& what) {
  uint64_t disk_sectors = disk_size / kSector;
  if (lba > disk_sectors || sectors > disk_sectors - lba) {
    return Bad(what + " lies past the end of the disk");
  }
  return OkStatus();
}

Result<PartitionTable> ParseGpt(uint64_t disk_size, const SectorReader& read) {
  uint8_t h[kSector];
  RETURN_IF_ERROR(read(1, h));
  if (std::memcmp(h, "EFI PART", 8) != 0) return Bad("protective MBR without a GPT header");
  uint32_t header_size = LoadLE32(h + 12);
  if (header_size < 92 || header_size > kSector) return Bad("GPT header size is invalid");
  uint32_t crc = LoadLE32(h + 16);
  std::memset(h + 16, 0, 4);
  if (Crc32(std::span<const uint8_t>(h, header_size)) != crc) {
    return Bad("GPT header CRC mismatch");
  }
  uint64_t entries_lba = LoadLE64(h + 72);
  uint32_t count = LoadLE32(h + 80);
  uint32_t entry_size = LoadLE32(h + 84);
  uint32_t entries_crc = LoadLE32(h + 88);
  if (count > kMaxGptEntries || entry_size < 128 || entry_size > 4096 || entry_size % 8) {
    return Bad("GPT entry count or size is invalid");
  }
  uint64_t bytes = uint64_t(count) * entry_size;
  uint64_t sectors = (bytes + kSector - 1) / kSector;
  RETURN_IF_ERROR(CheckRange(entries_lba, sectors, disk_size, "the GPT entry array"));
  std::vector<uint8_t> entries(sectors * kSector);
  for (uint64_t s = 0; s < sectors; ++s) {
    RETURN_IF_ERROR(read(entries_lba + s, std::span<uint8_t>(&entries[s * kSector], kSector)));
  }
  if (Crc32(std::span<const uint8_t>(entries.data(), bytes)) != entries_crc) {
    return Bad("GPT entry array CRC mismatch");
  }
  PartitionTable t{"gpt", {}};
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = &entries[uint64_t(i) * entry_size];
    if (std::all_of(e, e + 16, [](uint8_t b) { return b == 0; })) continue;  // unused
    uint64_t first = LoadLE64(e + 32), last = LoadLE64(e + 40);
    if (last < first) return Bad("GPT entry " + std::to_string(i + 1) + " ends before it starts");
    RETURN_IF_ERROR(
        CheckRange(first, last - first + 1, disk_size, "GPT partition " + std::to_string(i + 1)));
    t.partitions.push_back({int(i + 1), first * kSector, (last - first + 1) * kSector, 0});
  }
  return t;
}

// Logical partitions: a chain of EBRs, each with the partition (relative to
// the EBR) and the next EBR (relative to the extended partition's start).
Status ParseLogical(uint64_t ext_lba, uint64_t ext_sectors, uint64_t disk_size,
                    const SectorReader& read, PartitionTable& t) {
  std::set<uint64_t> seen;
  uint64_t ebr = ext_lba;
  for (int n = 5;; ++n) {
    if (n - 5 >= kMaxLogical) return Bad("more than 128 logical partitions");
    if (!seen.insert(ebr).second) return Bad("the extended partition chain loops");
    uint8_t s[kSector];
    RETURN_IF_ERROR(read(ebr, s));
    if (s[510] != 0x55 || s[511] != 0xaa) return Bad("an extended boot record lacks its signature");
    const uint8_t* part = s + 446;
    const uint8_t* next = s + 446 + 16;
    uint64_t lba = LoadLE32(part + 8), count = LoadLE32(part + 12);
    if (part[4] != 0 && count != 0) {
      RETURN_IF_ERROR(
          CheckRange(ebr + lba, count, disk_size, "logical partition " + std::to_string(n)));
      t.partitions.push_back({n, (ebr + lba) * kSector, count * kSector, part[4]});
    }
    if (next[4] == 0 || LoadLE32(next + 12) == 0) return OkStatus();
    uint64_t rel = LoadLE32(next + 8);
    if (rel >= ext_sectors) return Bad("an extended boot record points outside its partition");
    ebr = ext_lba + rel;
  }
}

}  // namespace

Result<PartitionTable> ParsePartitions(uint64_t disk_size, const SectorReader& read) {
  PartitionTable none{"none", {{0, 0, disk_size, 0}}};
  if (disk_size < 2 * kSector) return none;
  uint8_t mbr[kSector];
  RETURN_IF_ERROR(read(0, mbr));
  if (mbr[510] != 0x55 || mbr[511] != 0xaa) return none;
  // A FAT/NTFS boot sector also ends in 55 AA; its entry area is not a table.
  for (int i = 0; i < 4; ++i) {
    uint8_t status = mbr[446 + 16 * i];
    if (status != 0 && status != 0x80) return none;
  }
  for (int i = 0; i < 4; ++i) {
    if (mbr[446 + 16 * i + 4] == 0xee) return ParseGpt(disk_size, read);
  }
  PartitionTable t{"mbr", {}};
  for (int i = 0; i < 4; ++i) {
    const uint8_t* e = mbr + 446 + 16 * i;
    uint8_t type = e[4];
    uint64_t lba = LoadLE32(e + 8), count = LoadLE32(e + 12);
    if (type == 0 || count == 0) continue;
    RETURN_IF_ERROR(CheckRange(lba, count, disk_size, "partition " + std::to_string(i + 1)));
    if (IsExtended(type)) {
      RETURN_IF_ERROR(ParseLogical(lba, count, disk_size, read, t));
    } else {
      t.partitions.push_back({i + 1, lba * kSector, count * kSector, type});
    }
  }
  if (t.partitions.empty()) return none;
  return t;
}

Result<PartitionTable> ReadPartitions(const ImageFile& disk) {
  ASSIGN_OR_RETURN(uint64_t size, disk.Size());
  return ParsePartitions(size, [&](uint64_t lba, std::span<uint8_t> out) -> Status {
    if (lba > size / kSector || out.size() > size - lba * kSector) {
      return Bad("sector " + std::to_string(lba) + " lies past the end of the disk");
    }
    return disk.ReadAt(lba * kSector, out, "partition table");
  });
}

}  // namespace ferry::image
