// The VHD format, after Microsoft's "Virtual Hard Disk Image Format
// Specification" (v1.0, 2006): a 512-byte big-endian footer at the end of
// the file (and a copy at the start of dynamic disks), and for dynamic
// disks a header, a block allocation table (BAT) and blocks that each start
// with a sector bitmap.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace ferry::image::vhd {

inline constexpr uint64_t kSector = 512;
inline constexpr uint32_t kTypeFixed = 2;
inline constexpr uint32_t kTypeDynamic = 3;
inline constexpr uint32_t kTypeDifferencing = 4;
inline constexpr uint32_t kUnallocated = 0xffffffff;
inline constexpr uint64_t kMaxSize = 2040ull << 30;  // the specification's limit
inline constexpr uint64_t kMaxGeometrySectors = 65535ull * 16 * 255;
inline constexpr uint64_t kFooterSize = 512;
inline constexpr uint64_t kDynHeaderSize = 1024;

struct Footer {
  uint64_t data_offset = ~uint64_t(0);
  uint32_t timestamp = 0;
  char creator_app[4] = {'q', 'e', 'm', '2'};
  uint64_t original_size = 0;
  uint64_t current_size = 0;
  uint16_t cylinders = 0;
  uint8_t heads = 0;
  uint8_t sectors_per_track = 0;
  uint32_t disk_type = kTypeFixed;
  uint8_t uuid[16] = {};

  // The guest-visible size, as qemu decides it: Virtual PC and old qemu
  // images mean the CHS geometry, Hyper-V and others the current size.
  uint64_t VirtualSize() const;
};

// Where a differencing disk's parent may be found (specification, "Parent
// Locator Entry"): a platform code and the bytes of a path in the file.
struct ParentLocator {
  uint32_t code = 0;  // 'W2ru' relative / 'W2ku' absolute Windows path (UTF-16LE), 'MacX' file URL
  uint32_t data_length = 0;
  uint64_t data_offset = 0;
};
inline constexpr uint32_t kLocatorW2ru = 0x57327275;
inline constexpr uint32_t kLocatorW2ku = 0x57326b75;
inline constexpr uint32_t kLocatorMacX = 0x4d616358;
inline constexpr int kParentLocators = 8;

struct DynamicHeader {
  uint64_t table_offset = 0;
  uint32_t max_table_entries = 0;
  uint32_t block_size = 2 << 20;
  // Differencing disks only: the parent's footer UUID, its name (converted
  // from UTF-16BE) and its locators.
  uint8_t parent_uuid[16] = {};
  std::string parent_name;
  ParentLocator locators[kParentLocators];
};

Result<Footer> ParseFooter(const uint8_t* p);
void EncodeFooter(const Footer& f, uint8_t* p);
Result<DynamicHeader> ParseDynamicHeader(const uint8_t* p);
void EncodeDynamicHeader(const DynamicHeader& h, uint8_t* p);

// UTF-16 (either byte order) to UTF-8, stopping at the first NUL; unpaired
// surrogates become U+FFFD.
std::string Utf16ToUtf8(const uint8_t* p, size_t bytes, bool big_endian);

// The CHS geometry of the specification's appendix for a disk of `size` bytes.
void Geometry(uint64_t size, uint16_t* cylinders, uint8_t* heads, uint8_t* sectors);

}  // namespace ferry::image::vhd
