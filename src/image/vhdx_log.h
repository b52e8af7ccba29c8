// The VHDX log ([MS-VHDX] section 2.3): a circular buffer of entries, each
// a header, zero and data descriptors and 4 KiB data sectors, that records
// metadata writes before they reach their place in the file. An image that
// was not closed cleanly (a Hyper-V host that lost power, a copy taken
// while the VM ran) still holds them. ferry reads such an image without
// writing it: the active sequence is replayed into memory, and reads of the
// file see the replayed bytes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "base/result.h"
#include "image/vhdx_format.h"

namespace ferry::image::vhdx {

class LogOverlay {
 public:
  // Finds the active sequence of entries for `log_guid` in `log` and replays
  // it. No valid entries: an empty overlay. `file_size` is checked against
  // the sequence's FlushedFileOffset (a file cut after the log was written
  // is corrupt).
  static Result<LogOverlay> Replay(std::span<const uint8_t> log, const Guid& log_guid,
                                   uint64_t file_size);

  bool empty() const { return entries_ == 0; }
  size_t entries() const { return entries_; }
  uint64_t sequence() const { return sequence_; }
  // The file's size once the log is applied (LastFileOffset).
  uint64_t file_size() const { return file_size_; }
  // Puts the replayed bytes over `out`, the file's bytes at `offset`.
  void Apply(uint64_t offset, std::span<uint8_t> out) const;

 private:
  static constexpr uint64_t kSector = 4096;
  void Zero(uint64_t offset, uint64_t length);
  void Write(uint64_t offset, std::array<uint8_t, kSector> data);

  std::map<uint64_t, std::array<uint8_t, kSector>> sectors_;  // by 4 KiB-aligned offset
  std::vector<std::pair<uint64_t, uint64_t>> zeros_;          // [start, end), applied first
  size_t entries_ = 0;
  uint64_t sequence_ = 0;
  uint64_t file_size_ = 0;
};

}  // namespace ferry::image::vhdx
