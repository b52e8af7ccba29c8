#include "devices/pci/msix.h"

#include <cstdio>
#include <cstring>

#include "devices/pci/pci_config.h"

namespace ferry {

Msix::Msix(uint16_t vectors, InterruptSink& sink) : sink_(sink), table_(vectors) {}

std::array<uint8_t, Msix::kCapabilitySize> Msix::Capability(uint8_t bar, uint32_t table_offset,
                                                            uint32_t pba_offset) const {
  std::array<uint8_t, kCapabilitySize> cap{};
  cap[0] = pci::kCapMsix;
  uint16_t control = static_cast<uint16_t>(table_.size() - 1);
  std::memcpy(&cap[2], &control, 2);
  uint32_t table = table_offset | bar;
  uint32_t pba = pba_offset | bar;
  std::memcpy(&cap[4], &table, 4);
  std::memcpy(&cap[8], &pba, 4);
  return cap;
}

std::array<uint8_t, Msix::kCapabilitySize> Msix::CapabilityWritable() {
  std::array<uint8_t, kCapabilitySize> writable{};
  writable[3] = static_cast<uint8_t>((kControlEnable | kControlFunctionMask) >> 8);
  return writable;
}

void Msix::ControlWritten(uint16_t control) {
  enabled_ = (control & kControlEnable) != 0;
  function_masked_ = (control & kControlFunctionMask) != 0;
  DeliverPending();
}

void Msix::TableRead(uint64_t offset, std::span<uint8_t> data) const {
  const auto* bytes = reinterpret_cast<const uint8_t*>(table_.data());
  size_t total = table_.size() * sizeof(MsixEntry);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < total ? bytes[offset + i] : 0;
  }
}

void Msix::TableWrite(uint64_t offset, std::span<const uint8_t> data) {
  size_t total = table_.size() * sizeof(MsixEntry);
  if (offset >= total || data.size() > total - offset) return;
  uint16_t first = static_cast<uint16_t>(offset / sizeof(MsixEntry));
  uint16_t last = static_cast<uint16_t>((offset + data.size() - 1) / sizeof(MsixEntry));
  std::vector<MsixEntry> before(table_.begin() + first, table_.begin() + last + 1);
  std::memcpy(reinterpret_cast<uint8_t*>(table_.data()) + offset, data.data(), data.size());
  for (uint16_t i = first; i <= last; ++i) {
    const MsixEntry& old = before[i - first];
    MsixEntry& now = table_[i];
    now.control &= 1;  // the other control bits are reserved
    if (old.address_lo != now.address_lo || old.address_hi != now.address_hi ||
        old.data != now.data) {
      Route(i);
    }
  }
  DeliverPending();
}

void Msix::PbaRead(uint64_t offset, std::span<uint8_t> data) const {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t byte = offset + i;
    data[i] = byte < 8 ? static_cast<uint8_t>(pending_ >> (8 * byte)) : 0;
  }
}

void Msix::Notify(uint16_t index) {
  if (index >= table_.size()) return;
  if (Masked(index)) {
    pending_ |= uint64_t{1} << index;
    return;
  }
  sink_.FireVector(index);
}

void Msix::Route(uint16_t index) {
  const MsixEntry& e = table_[index];
  Status routed = sink_.RouteVector(index, uint64_t{e.address_hi} << 32 | e.address_lo, e.data);
  if (!routed.ok()) {
    std::fprintf(stderr, "ferry: MSI-X vector %u: %s\n", index, routed.error().message().c_str());
  }
}

void Msix::DeliverPending() {
  if (!enabled_ || function_masked_) return;
  for (uint16_t i = 0; i < table_.size(); ++i) {
    if ((pending_ >> i & 1) && !Masked(i)) {
      pending_ &= ~(uint64_t{1} << i);
      sink_.FireVector(i);
    }
  }
}

bool Msix::Restore(const MsixState& state, uint16_t control) {
  if (state.table.size() != table_.size()) return false;
  table_ = state.table;
  pending_ =
      state.pending & (table_.size() >= 64 ? ~uint64_t{0} : (uint64_t{1} << table_.size()) - 1);
  for (uint16_t i = 0; i < table_.size(); ++i) {
    table_[i].control &= 1;
    Route(i);
  }
  enabled_ = (control & kControlEnable) != 0;
  function_masked_ = (control & kControlFunctionMask) != 0;
  return true;
}

}  // namespace ferry
