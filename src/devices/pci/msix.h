// MSI-X (PCI 3.0, 6.8.2): the capability, the vector table and the pending
// bit array, both living in a BAR. A vector fires only when MSI-X is enabled,
// the function is not masked and the vector is not masked; otherwise its
// pending bit is set and the message goes out when the mask is lifted.
// Not thread-safe: the owning device serializes access.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "devices/interrupts.h"

namespace ferry {

struct MsixEntry {
  uint32_t address_lo = 0;
  uint32_t address_hi = 0;
  uint32_t data = 0;
  uint32_t control = 1;  // bit 0: masked (the reset value)
};
static_assert(sizeof(MsixEntry) == 16);

struct MsixState {
  std::vector<MsixEntry> table;
  uint64_t pending = 0;  // one bit per vector (at most 64 vectors)
};

class Msix {
 public:
  static constexpr uint16_t kMaxVectors = 64;
  static constexpr size_t kCapabilitySize = 12;
  static constexpr uint16_t kControlEnable = 1u << 15;
  static constexpr uint16_t kControlFunctionMask = 1u << 14;

  Msix(uint16_t vectors, InterruptSink& sink);

  // The capability bytes and which of them the guest may write (enable and
  // function mask), with the table and PBA at the given offsets of `bar`.
  std::array<uint8_t, kCapabilitySize> Capability(uint8_t bar, uint32_t table_offset,
                                                  uint32_t pba_offset) const;
  static std::array<uint8_t, kCapabilitySize> CapabilityWritable();

  // The message control word after a config space write.
  void ControlWritten(uint16_t control);
  bool enabled() const { return enabled_; }
  uint16_t vectors() const { return static_cast<uint16_t>(table_.size()); }

  void TableRead(uint64_t offset, std::span<uint8_t> data) const;
  void TableWrite(uint64_t offset, std::span<const uint8_t> data);
  void PbaRead(uint64_t offset, std::span<uint8_t> data) const;

  // Sends vector `index`, or marks it pending while masked.
  void Notify(uint16_t index);

  MsixState Save() const { return {table_, pending_}; }
  // Takes the table (its size must match) and re-routes every vector.
  bool Restore(const MsixState& state, uint16_t control);

 private:
  bool Masked(uint16_t index) const { return function_masked_ || (table_[index].control & 1); }
  void Route(uint16_t index);
  void DeliverPending();

  InterruptSink& sink_;
  std::vector<MsixEntry> table_;
  uint64_t pending_ = 0;
  bool enabled_ = false;
  bool function_masked_ = false;
};

}  // namespace ferry
