// The VHDX format, after Microsoft's "[MS-VHDX]: Virtual Hard Disk v2 (VHDX)
// File Format" (v1.0 and later revisions). All fields little-endian. The
// first MiB holds a file identifier (64 KiB), two headers (4 KiB each, at
// 64 KiB and 128 KiB, the valid one with the higher sequence number wins)
// and two copies of the region table (64 KiB each, at 192 KiB and 256 KiB).
// The region table locates the block allocation table (BAT) and the
// metadata region; the metadata items give the block size, the virtual
// size and the logical sector size. Headers and tables carry CRC32C.
// These functions parse byte buffers only, so that they can be fuzzed alone.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace ferry::image::vhdx {

inline constexpr uint64_t kMiB = 1 << 20;
inline constexpr uint64_t kHeaderOffset[2] = {64 << 10, 128 << 10};
inline constexpr uint64_t kHeaderSize = 4 << 10;
inline constexpr uint64_t kRegionTableOffset[2] = {192 << 10, 256 << 10};
inline constexpr uint64_t kRegionTableSize = 64 << 10;
inline constexpr uint64_t kMetadataTableSize = 64 << 10;
inline constexpr uint32_t kMaxTableEntries = 2047;
inline constexpr uint64_t kMaxVirtualSize = 64ull << 40;  // the specification's limit

// A GUID as stored on disk (the first three fields little-endian).
using Guid = std::array<uint8_t, 16>;
// Parses "2DC27766-F623-4200-9D64-115E9BFD4A08" into its on-disk bytes.
Guid GuidFromString(const char* text);
bool IsZeroGuid(const Guid& g);
// Parses "{83ee1a2a-...}" (braces optional) strictly; nullopt if malformed.
std::optional<Guid> ParseGuidText(const std::string& text);
std::string GuidText(const Guid& g);

// BAT entry states (section 2.5.1.1 and 2.5.1.2).
inline constexpr uint8_t kPayloadNotPresent = 0;
inline constexpr uint8_t kPayloadUndefined = 1;
inline constexpr uint8_t kPayloadZero = 2;
inline constexpr uint8_t kPayloadUnmapped = 3;
inline constexpr uint8_t kPayloadFullyPresent = 6;
inline constexpr uint8_t kPayloadPartiallyPresent = 7;

struct Header {
  uint64_t sequence_number = 0;
  Guid data_write_guid{};  // what a differencing child's parent_linkage names
  Guid log_guid{};
  uint16_t log_version = 0;
  uint16_t version = 0;
  uint32_t log_length = 0;
  uint64_t log_offset = 0;
};

struct Region {
  uint64_t offset = 0;
  uint32_t length = 0;
};

struct RegionTable {
  Region bat;
  Region metadata;
};

struct Metadata {
  uint32_t block_size = 0;
  bool leave_blocks_allocated = false;
  bool has_parent = false;
  uint64_t virtual_size = 0;
  uint32_t logical_sector_size = 0;
  uint32_t physical_sector_size = 0;
  // The parent locator's key/value pairs (differencing disks): parent_linkage,
  // relative_path, absolute_win32_path, volume_path...
  std::vector<std::pair<std::string, std::string>> parent_locator;
  std::string ParentValue(const std::string& key) const;
};
inline constexpr uint8_t kSectorBitmapPresent = 6;
inline constexpr uint32_t kMaxParentLocator = 64 << 10;

// One 4 KiB header; checks the signature, checksum and version.
Result<Header> ParseHeader(std::span<const uint8_t> p);
// The header to use out of the two (either may be an error): the valid one
// with the higher sequence number.
Result<Header> PickHeader(Result<Header> first, Result<Header> second);

// One 64 KiB region table copy; checks signature, checksum, entry count,
// alignment, that the regions lie within `file_size` and overlap neither the
// first MiB nor each other, and that no unknown region is required.
Result<RegionTable> ParseRegionTable(std::span<const uint8_t> p, uint64_t file_size);

// Where one metadata item lies within the metadata region.
struct MetadataItem {
  Guid id{};
  uint32_t offset = 0;
  uint32_t length = 0;
};
// The 64 KiB metadata table at the start of a metadata region of
// `region_length` bytes: the known items' places, checked against the
// region; unknown required items are refused.
Result<std::vector<MetadataItem>> ParseMetadataTable(std::span<const uint8_t> p,
                                                     uint32_t region_length);
// Fills `m` from one known item's bytes.
Status ParseMetadataItem(const MetadataItem& item, std::span<const uint8_t> data, Metadata& m);
// Checks the values once all items are in (sizes, powers of two, limits).
Status ValidateMetadata(const Metadata& m, bool saw_parameters, bool saw_size, bool saw_sector);

// Payload blocks per sector bitmap block: 2^23 * logical sector / block size.
uint64_t ChunkRatio(const Metadata& m);
// Payload blocks covering the virtual size.
uint64_t DataBlocks(const Metadata& m);
// BAT entries the disk needs: payload entries interleaved with one sector
// bitmap entry after every ChunkRatio of them (a differencing disk's table
// runs to its last sector bitmap entry).
uint64_t BatEntries(const Metadata& m);
// The BAT index of chunk `chunk`'s sector bitmap block.
inline uint64_t SectorBitmapIndex(uint64_t chunk, uint64_t chunk_ratio) {
  return chunk * (chunk_ratio + 1) + chunk_ratio;
}
// The BAT index of payload block `block`.
inline uint64_t PayloadIndex(uint64_t block, uint64_t chunk_ratio) {
  return block + block / chunk_ratio;
}
inline uint8_t EntryState(uint64_t entry) {
  return entry & 7;
}
inline uint64_t EntryOffset(uint64_t entry) {
  return (entry >> 20) * kMiB;
}

}  // namespace ferry::image::vhdx
