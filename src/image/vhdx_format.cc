#include "image/vhdx_format.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "base/crc32c.h"
#include "base/endian.h"
#include "image/vhd_format.h"

namespace ferry::image::vhdx {
namespace {

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "vhdx: " + what);
}

// CRC32C over `p` with the 4-byte checksum field at `at` taken as zero
// (section 2.2.2 and others).
uint32_t Checksum(std::span<const uint8_t> p, size_t at) {
  static constexpr uint8_t kZero[4] = {};
  uint32_t crc = Crc32c(p.subspan(0, at));
  crc = Crc32c(kZero, crc);
  return Crc32c(p.subspan(at + 4), crc);
}

Guid ReadGuid(const uint8_t* p) {
  Guid g;
  std::memcpy(g.data(), p, 16);
  return g;
}

const Guid kBatRegion = GuidFromString("2DC27766-F623-4200-9D64-115E9BFD4A08");
const Guid kMetadataRegion = GuidFromString("8B7CA206-4790-4B9A-B8FE-575F050F886E");
const Guid kFileParameters = GuidFromString("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
const Guid kVirtualDiskSize = GuidFromString("2FA54224-CD1B-4876-B211-5DBED83BF4B8");
const Guid kVirtualDiskId = GuidFromString("BECA12AB-B2E6-4523-93EF-C309E000C746");
const Guid kLogicalSectorSize = GuidFromString("8141BF1D-A96F-4709-BA47-F233A8FAAB5F");
const Guid kPhysicalSectorSize = GuidFromString("CDA348C7-445D-4471-9CC9-E9885251C556");
const Guid kParentLocator = GuidFromString("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");

bool IsKnownItem(const Guid& id) {
  for (const Guid* g : {&kFileParameters, &kVirtualDiskSize, &kVirtualDiskId, &kLogicalSectorSize,
                        &kPhysicalSectorSize, &kParentLocator}) {
    if (id == *g) return true;
  }
  return false;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

bool IsPowerOfTwo(uint64_t v) {
  return v && (v & (v - 1)) == 0;
}

}  // namespace

Guid GuidFromString(const char* text) {
  uint8_t bytes[16] = {};
  int n = 0;
  for (const char* c = text; *c && n < 32; ++c) {
    if (*c == '-') continue;
    bytes[n / 2] = uint8_t(bytes[n / 2] << 4 | HexDigit(*c));
    ++n;
  }
  // Data1 (4 bytes), Data2 and Data3 (2 bytes each) are stored little-endian.
  Guid g;
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; ++i) g[i] = bytes[order[i]];
  return g;
}

std::optional<Guid> ParseGuidText(const std::string& text) {
  std::string t = text;
  if (t.size() == 38 && t.front() == '{' && t.back() == '}') t = t.substr(1, 36);
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') {
    return std::nullopt;
  }
  for (size_t i = 0; i < t.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    if (!std::isxdigit(static_cast<unsigned char>(t[i]))) return std::nullopt;
  }
  return GuidFromString(t.c_str());
}

std::string GuidText(const Guid& g) {
  static const char kDigits[] = "0123456789abcdef";
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kDigits[g[order[i]] >> 4];
    out += kDigits[g[order[i]] & 15];
  }
  return out;
}

std::string Metadata::ParentValue(const std::string& key) const {
  for (const auto& [k, v] : parent_locator) {
    if (k == key) return v;
  }
  return "";
}

bool IsZeroGuid(const Guid& g) {
  return std::all_of(g.begin(), g.end(), [](uint8_t b) { return b == 0; });
}

Result<Header> ParseHeader(std::span<const uint8_t> p) {
  if (p.size() < kHeaderSize) return Corrupt("header truncated");
  p = p.subspan(0, kHeaderSize);
  if (std::memcmp(p.data(), "head", 4) != 0) return Corrupt("header signature 'head' missing");
  if (LoadLE32(&p[4]) != Checksum(p, 4)) return Corrupt("header checksum mismatch");
  Header h;
  h.sequence_number = LoadLE64(&p[8]);
  h.data_write_guid = ReadGuid(&p[32]);
  h.log_guid = ReadGuid(&p[48]);
  h.log_version = LoadLE16(&p[64]);
  h.version = LoadLE16(&p[66]);
  h.log_length = LoadLE32(&p[68]);
  h.log_offset = LoadLE64(&p[72]);
  if (h.version != 1) {
    return Error(ErrorCode::kUnimplemented,
                 "vhdx: header version " + std::to_string(h.version) + " is not supported");
  }
  if (h.log_version != 0) return Corrupt("log version " + std::to_string(h.log_version));
  if (h.log_offset % kMiB || h.log_length % kMiB || h.log_offset < kMiB) {
    return Corrupt("log is not aligned to 1 MiB or overlaps the headers");
  }
  return h;
}

Result<Header> PickHeader(Result<Header> first, Result<Header> second) {
  if (!first.ok() && !second.ok()) {
    return Error(first.error().code(),
                 "both headers are invalid (" + first.error().message() + ")");
  }
  if (!first.ok()) return second;
  if (!second.ok()) return first;
  if (first->sequence_number == second->sequence_number) {
    return Corrupt("both headers have the same sequence number");
  }
  return first->sequence_number > second->sequence_number ? first : second;
}

Result<RegionTable> ParseRegionTable(std::span<const uint8_t> p, uint64_t file_size) {
  if (p.size() < kRegionTableSize) return Corrupt("region table truncated");
  p = p.subspan(0, kRegionTableSize);
  if (std::memcmp(p.data(), "regi", 4) != 0) return Corrupt("region table signature missing");
  if (LoadLE32(&p[4]) != Checksum(p, 4)) return Corrupt("region table checksum mismatch");
  uint32_t count = LoadLE32(&p[8]);
  if (count > kMaxTableEntries) return Corrupt("region table has too many entries");
  RegionTable t;
  bool have_bat = false, have_metadata = false;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = &p[16 + 32 * i];
    Guid id = ReadGuid(e);
    Region r{LoadLE64(e + 16), LoadLE32(e + 24)};
    bool required = LoadLE32(e + 28) & 1;
    if (r.offset % kMiB || r.length % kMiB || r.offset < kMiB || r.length == 0) {
      return Corrupt("region " + std::to_string(i) + " is not aligned to 1 MiB");
    }
    if (r.offset > file_size || r.length > file_size - r.offset) {
      return Corrupt("region " + std::to_string(i) + " lies past the end of the file");
    }
    spans.emplace_back(r.offset, r.offset + r.length);
    if (id == kBatRegion) {
      if (have_bat) return Corrupt("two block allocation table regions");
      t.bat = r;
      have_bat = true;
    } else if (id == kMetadataRegion) {
      if (have_metadata) return Corrupt("two metadata regions");
      t.metadata = r;
      have_metadata = true;
    } else if (required) {
      return Error(ErrorCode::kUnimplemented, "vhdx: unknown required region");
    }
  }
  if (!have_bat || !have_metadata) return Corrupt("block allocation table or metadata missing");
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) return Corrupt("regions overlap");
  }
  return t;
}

Result<std::vector<MetadataItem>> ParseMetadataTable(std::span<const uint8_t> p,
                                                     uint32_t region_length) {
  if (p.size() < kMetadataTableSize || region_length < kMetadataTableSize) {
    return Corrupt("metadata table truncated");
  }
  if (std::memcmp(p.data(), "metadata", 8) != 0) return Corrupt("metadata signature missing");
  uint16_t count = LoadLE16(&p[10]);
  if (count > kMaxTableEntries) return Corrupt("metadata table has too many entries");
  std::vector<MetadataItem> items;
  std::set<Guid> seen;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = &p[32 + 32 * i];
    MetadataItem item{ReadGuid(e), LoadLE32(e + 16), LoadLE32(e + 20)};
    uint32_t flags = LoadLE32(e + 24);
    bool required = flags & 4;
    if (!seen.insert(item.id).second) return Corrupt("metadata item listed twice");
    if (!IsKnownItem(item.id)) {
      if (required) return Error(ErrorCode::kUnimplemented, "vhdx: unknown required metadata");
      continue;
    }
    if (item.offset < kMetadataTableSize || item.offset > region_length ||
        item.length > region_length - item.offset) {
      return Corrupt("metadata item " + std::to_string(i) + " lies outside the metadata region");
    }
    items.push_back(item);
  }
  return items;
}

namespace {

// Section 2.6.2.6: a locator type GUID, a count, then (key offset, value
// offset, key length, value length) entries pointing at UTF-16LE strings
// within the item.
Status ParseParentLocator(std::span<const uint8_t> d, Metadata& m) {
  static const Guid kVhdxLocator = GuidFromString("B04AEFB7-D19E-4A81-B789-25B8E9445913");
  if (d.size() < 20) return Corrupt("parent locator truncated");
  if (ReadGuid(&d[0]) != kVhdxLocator) {
    return Error(ErrorCode::kUnimplemented, "vhdx: unknown parent locator type");
  }
  const uint16_t count = LoadLE16(&d[18]);
  if (20 + uint64_t(count) * 12 > d.size()) return Corrupt("parent locator entries truncated");
  m.parent_locator.clear();
  for (uint16_t i = 0; i < count; ++i) {
    const uint8_t* e = &d[20 + 12 * i];
    const uint32_t key_at = LoadLE32(e), value_at = LoadLE32(e + 4);
    const uint16_t key_len = LoadLE16(e + 8), value_len = LoadLE16(e + 10);
    if (key_at > d.size() || key_len > d.size() - key_at || value_at > d.size() ||
        value_len > d.size() - value_at || key_len == 0 || key_len % 2 || value_len % 2) {
      return Corrupt("parent locator entry " + std::to_string(i) + " lies outside the item");
    }
    m.parent_locator.emplace_back(vhd::Utf16ToUtf8(&d[key_at], key_len, false),
                                  vhd::Utf16ToUtf8(&d[value_at], value_len, false));
  }
  return OkStatus();
}

}  // namespace

Status ParseMetadataItem(const MetadataItem& item, std::span<const uint8_t> d, Metadata& m) {
  auto need = [&](size_t n) -> Status {
    if (d.size() < n || item.length < n) return Corrupt("metadata item too short");
    return OkStatus();
  };
  if (item.id == kFileParameters) {
    RETURN_IF_ERROR(need(8));
    m.block_size = LoadLE32(&d[0]);
    uint32_t flags = LoadLE32(&d[4]);
    m.leave_blocks_allocated = flags & 1;
    m.has_parent = flags & 2;
  } else if (item.id == kVirtualDiskSize) {
    RETURN_IF_ERROR(need(8));
    m.virtual_size = LoadLE64(&d[0]);
  } else if (item.id == kLogicalSectorSize) {
    RETURN_IF_ERROR(need(4));
    m.logical_sector_size = LoadLE32(&d[0]);
  } else if (item.id == kPhysicalSectorSize) {
    RETURN_IF_ERROR(need(4));
    m.physical_sector_size = LoadLE32(&d[0]);
  } else if (item.id == kParentLocator) {
    return ParseParentLocator(d.subspan(0, std::min<size_t>(d.size(), item.length)), m);
  }
  return OkStatus();
}

Status ValidateMetadata(const Metadata& m, bool saw_parameters, bool saw_size, bool saw_sector) {
  if (!saw_parameters || !saw_size || !saw_sector) {
    return Corrupt("file parameters, virtual disk size or logical sector size missing");
  }
  if (m.has_parent && !ParseGuidText(m.ParentValue("parent_linkage"))) {
    return Corrupt("differencing image without a valid parent_linkage in its parent locator");
  }
  if (!IsPowerOfTwo(m.block_size) || m.block_size < kMiB || m.block_size > 256 * kMiB) {
    return Corrupt("block size " + std::to_string(m.block_size) + " is invalid");
  }
  if (m.logical_sector_size != 512 && m.logical_sector_size != 4096) {
    return Corrupt("logical sector size " + std::to_string(m.logical_sector_size) + " is invalid");
  }
  if (m.virtual_size > kMaxVirtualSize || m.virtual_size % m.logical_sector_size) {
    return Corrupt("virtual disk size " + std::to_string(m.virtual_size) + " is invalid");
  }
  return OkStatus();
}

uint64_t ChunkRatio(const Metadata& m) {
  return (uint64_t(1) << 23) * m.logical_sector_size / m.block_size;
}

uint64_t DataBlocks(const Metadata& m) {
  return (m.virtual_size + m.block_size - 1) / m.block_size;
}

uint64_t BatEntries(const Metadata& m) {
  uint64_t blocks = DataBlocks(m);
  if (blocks == 0) return 0;
  if (m.has_parent) {
    const uint64_t ratio = ChunkRatio(m);
    return (blocks + ratio - 1) / ratio * (ratio + 1);
  }
  return blocks + (blocks - 1) / ChunkRatio(m);
}

}  // namespace ferry::image::vhdx
