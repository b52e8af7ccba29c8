// The VMDK on-disk format, after VMware's "Virtual Disk Format 1.1"
// technical note (vmdk_50_technote.pdf): the text descriptor, hosted sparse
// extents (header, grain directory, grain tables, grains) and the
// streamOptimized variant with compressed grains and markers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "image/file.h"

namespace ferry::image::vmdk {

inline constexpr uint32_t kSparseMagic = 0x564d444b;  // "KDMV"
inline constexpr uint64_t kSector = 512;
inline constexpr uint64_t kGdAtEnd = ~uint64_t(0);
inline constexpr uint32_t kFlagNewlineTest = 1 << 0;
inline constexpr uint32_t kFlagRedundantGt = 1 << 1;
inline constexpr uint32_t kFlagZeroGrain = 1 << 2;
inline constexpr uint32_t kFlagCompressed = 1 << 16;
inline constexpr uint32_t kFlagMarkers = 1 << 17;
inline constexpr uint16_t kCompressDeflate = 1;
inline constexpr uint32_t kMarkerEos = 0;
inline constexpr uint32_t kMarkerGrainTable = 1;
inline constexpr uint32_t kMarkerGrainDirectory = 2;
inline constexpr uint32_t kMarkerFooter = 3;
inline constexpr uint64_t kMaxDescriptorBytes = 1 << 20;

struct SparseHeader {
  uint32_t version = 1;
  uint32_t flags = 0;
  uint64_t capacity = 0;           // sectors
  uint64_t grain_size = 0;         // sectors
  uint64_t descriptor_offset = 0;  // sectors
  uint64_t descriptor_size = 0;    // sectors
  uint32_t gtes_per_gt = 512;
  uint64_t rgd_offset = 0;  // sectors
  uint64_t gd_offset = 0;   // sectors
  uint64_t overhead = 0;    // sectors
  uint16_t compress_algorithm = 0;

  uint64_t grain_bytes() const { return grain_size * kSector; }
  uint64_t gt_span() const { return grain_bytes() * gtes_per_gt; }
  uint64_t gd_entries() const { return (capacity * kSector + gt_span() - 1) / gt_span(); }
};

// Parses and validates a 512-byte sparse extent header.
Result<SparseHeader> ParseSparseHeader(const uint8_t* p);
void EncodeSparseHeader(const SparseHeader& h, uint8_t* p);

enum class ExtentType { kFlat, kSparse, kZero };

struct ExtentLine {
  ExtentType type = ExtentType::kFlat;
  uint64_t sectors = 0;
  std::string file;     // flat and sparse
  uint64_t offset = 0;  // flat: sectors into the file
};

struct Descriptor {
  std::string create_type;
  std::string cid;
  std::string parent_cid;
  std::string parent_hint;  // parentFileNameHint
  std::vector<ExtentLine> extents;
  std::map<std::string, std::string> ddb;
};

// Parses descriptor text; refuses unknown extent types and bad numbers.
Result<Descriptor> ParseDescriptor(const std::string& text);

}  // namespace ferry::image::vmdk
