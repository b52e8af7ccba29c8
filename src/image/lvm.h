// LVM2 physical volumes inside a disk image, read without device-mapper: the
// label and PV header (one of the first four sectors: "LABELONE" / "LVM2 001"),
// the metadata area (mda_header " LVM2 x[5A%r0N*>" with its circular text
// buffer) and the volume group's text metadata, as lvm2's format_text
// (lib/format_text/layout.h, the "Text Format Volume Group" grammar) lays
// them out. What the guest fix-ups need from it: where each logical volume
// that lies in one contiguous run of this PV starts and how long it is, so
// that its filesystem can be opened like a partition. Hostile input: every
// checksum (lvm2's CRC32 seeded with 0xf597a6cf), offset, size, count and
// nesting depth is checked before use.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace ferry::image {

struct LvmLogicalVolume {
  std::string name;     // "root"
  uint64_t offset = 0;  // bytes from the start of the PV; valid when `linear`
  uint64_t size = 0;    // bytes
  bool linear = false;  // one contiguous run on this PV
  std::string why_not;  // when not linear: what stands in the way (thin, striped, other PV...)
};

struct LvmPhysicalVolume {
  std::string vg;  // the volume group's name
  std::string pv;  // this PV's name in the metadata ("pv0")
  std::vector<LvmLogicalVolume> lvs;
};

// Reads `size` bytes at `offset` from the start of the PV (the partition).
using PvReader = std::function<Status(uint64_t offset, std::span<uint8_t> out)>;

// nullopt when the area carries no LVM2 label; an error when it carries one
// that is damaged.
Result<std::optional<LvmPhysicalVolume>> ReadLvmPhysicalVolume(uint64_t pv_size,
                                                               const PvReader& read);

// lvm2's checksum: CRC-32 (reflected, 0xEDB88320) without the final
// inversion, seeded with 0xf597a6cf.
uint32_t LvmChecksum(std::span<const uint8_t> data);

// The metadata text grammar: `key = value`, `key { ... }`, values are
// strings, integers or [lists]. Exposed for unit tests and fuzzing.
struct LvmConfigNode {
  enum class Kind { kSection, kString, kInteger, kList };
  std::string key;
  Kind kind = Kind::kSection;
  std::string text;                     // kString
  int64_t integer = 0;                  // kInteger
  std::vector<LvmConfigNode> children;  // kSection: entries; kList: items (key empty)
  const LvmConfigNode* Find(std::string_view child) const;
};
Result<LvmConfigNode> ParseLvmConfig(std::string_view text);

}  // namespace ferry::image
