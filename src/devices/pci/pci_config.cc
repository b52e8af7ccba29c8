#include "devices/pci/pci_config.h"

#include <cassert>
#include <cstdio>
#include <cstring>

namespace ferry {
namespace {

constexpr uint32_t kBarEnd = pci::kBar0 + 4 * kPciBarCount;
constexpr uint32_t kBarMemoryFlags = 0;  // 32-bit, non-prefetchable memory

bool IsBar(uint32_t offset) {
  return offset >= pci::kBar0 && offset < kBarEnd;
}

}  // namespace

PciConfigSpace::PciConfigSpace(const PciIds& ids, std::string name) : name_(std::move(name)) {
  SetDword(pci::kVendorId, uint32_t{ids.device} << 16 | ids.vendor);
  SetDword(pci::kRevision, ids.class_code << 8 | ids.revision);
  state_.bytes[0x0e] = ids.header_type;
  SetDword(pci::kSubsystemVendor, uint32_t{ids.subsystem} << 16 | ids.subsystem_vendor);
  // Command: I/O and memory decode, bus mastering, INTx disable are the
  // guest's to set (BAR decoding itself is always on, docs/devices.md).
  uint16_t command_bits =
      pci::kCommandIo | pci::kCommandMemory | pci::kCommandBusMaster | pci::kCommandIntxDisable;
  writable_[pci::kCommand] = static_cast<uint8_t>(command_bits);
  writable_[pci::kCommand + 1] = static_cast<uint8_t>(command_bits >> 8);
  writable_[pci::kInterruptLine] = 0xff;
}

uint16_t PciConfigSpace::word(uint32_t offset) const {
  uint16_t v;
  std::memcpy(&v, &state_.bytes[offset], 2);
  return v;
}

uint32_t PciConfigSpace::dword(uint32_t offset) const {
  uint32_t v;
  std::memcpy(&v, &state_.bytes[offset], 4);
  return v;
}

void PciConfigSpace::SetDword(uint32_t offset, uint32_t value) {
  std::memcpy(&state_.bytes[offset], &value, 4);
}

void PciConfigSpace::SetWordBits(uint32_t offset, uint16_t bits, bool on) {
  uint16_t v = word(offset);
  v = on ? (v | bits) : (v & ~bits);
  std::memcpy(&state_.bytes[offset], &v, 2);
}

void PciConfigSpace::DeclareBar(int index, uint32_t size) {
  assert(index >= 0 && index < kPciBarCount && size >= 16 && (size & (size - 1)) == 0);
  bar_size_[index] = size;
  SetDword(pci::kBar0 + 4 * index, kBarMemoryFlags);
}

void PciConfigSpace::AssignBar(int index, uint32_t address) {
  assert(bar_size_[index] != 0 && address % bar_size_[index] == 0);
  bar_assigned_[index] = address;
  SetDword(pci::kBar0 + 4 * index, address | kBarMemoryFlags);
}

uint32_t PciConfigSpace::bar_address(int index) const {
  return bar_assigned_[index];
}

uint8_t PciConfigSpace::AddCapability(std::span<const uint8_t> body,
                                      std::span<const uint8_t> writable) {
  uint8_t at = next_cap_;
  assert(body.size() >= 2 && at + body.size() <= kPciConfigSize);
  std::memcpy(&state_.bytes[at], body.data(), body.size());
  state_.bytes[at + 1] = 0;
  for (size_t i = 0; i < writable.size() && i < body.size(); ++i) writable_[at + i] = writable[i];
  if (last_cap_ == 0) {
    state_.bytes[pci::kCapabilityPointer] = at;
    SetWordBits(pci::kStatus, pci::kStatusCapabilities, true);
  } else {
    state_.bytes[last_cap_ + 1] = at;
  }
  last_cap_ = at;
  next_cap_ = static_cast<uint8_t>((at + body.size() + 3) & ~size_t{3});
  return at;
}

void PciConfigSpace::SetInterruptPin(uint8_t pin, uint8_t line) {
  state_.bytes[pci::kInterruptPin] = pin;
  state_.bytes[pci::kInterruptLine] = line;
}

uint32_t PciConfigSpace::ReadDword(uint32_t aligned) const {
  return dword(aligned);
}

void PciConfigSpace::Read(uint32_t offset, std::span<uint8_t> data) const {
  for (size_t i = 0; i < data.size(); ++i) {
    uint32_t at = offset + static_cast<uint32_t>(i);
    if (at >= kPciConfigSize) {
      data[i] = 0xff;
      continue;
    }
    uint32_t value = ReadDword(at & ~3u);
    data[i] = static_cast<uint8_t>(value >> (8 * (at & 3)));
  }
}

void PciConfigSpace::WriteBar(int index, uint32_t value, bool whole) {
  uint32_t size = bar_size_[index];
  if (size == 0) return;  // unimplemented BARs are hardwired to zero
  uint32_t mask = ~(size - 1);
  uint32_t address = value & mask;
  if (whole && address != mask && address != bar_assigned_[index]) {
    if (!warned_bar_move_) {
      warned_bar_move_ = true;
      std::fprintf(stderr,
                   "ferry: %s: the guest tried to move BAR%d to 0x%x; it stays at 0x%x "
                   "(BARs are fixed)\n",
                   name_.c_str(), index, address, bar_assigned_[index]);
    }
    address = bar_assigned_[index];
  }
  SetDword(pci::kBar0 + 4 * static_cast<uint32_t>(index), address | kBarMemoryFlags);
}

void PciConfigSpace::Write(uint32_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size();) {
    uint32_t at = offset + static_cast<uint32_t>(i);
    if (at >= kPciConfigSize) return;
    if (IsBar(at)) {
      // A BAR is handled as a whole dword: merge the written bytes into what
      // the guest currently reads, then apply the dword.
      uint32_t aligned = at & ~3u;
      uint32_t value = ReadDword(aligned);
      bool whole = at == aligned && data.size() - i >= 4;
      for (; i < data.size() && (offset + i) < aligned + 4; ++i) {
        uint32_t shift = 8 * ((offset + static_cast<uint32_t>(i)) & 3);
        value = (value & ~(0xffu << shift)) | (uint32_t{data[i]} << shift);
      }
      WriteBar(static_cast<int>((aligned - pci::kBar0) / 4), value, whole);
      continue;
    }
    state_.bytes[at] =
        static_cast<uint8_t>((state_.bytes[at] & ~writable_[at]) | (data[i] & writable_[at]));
    ++i;
  }
}

bool PciConfigSpace::Restore(const PciConfigState& saved) {
  PciConfigState candidate = saved;
  for (int i = 0; i < kPciBarCount; ++i) {
    uint32_t at = pci::kBar0 + 4 * static_cast<uint32_t>(i);
    uint32_t value;
    std::memcpy(&value, &candidate.bytes[at], 4);
    uint32_t mask = bar_size_[i] ? ~(bar_size_[i] - 1) : 0;
    if (bar_size_[i] == 0 ? value != 0
                          : ((value & mask) != bar_assigned_[i] && (value & mask) != mask)) {
      return false;
    }
  }
  // Identification and other read-only bytes come from this side's model;
  // only guest-writable bits (and the checked BARs) come from the saved state.
  for (size_t i = 0; i < kPciConfigSize; ++i) {
    if (IsBar(static_cast<uint32_t>(i))) continue;
    candidate.bytes[i] =
        static_cast<uint8_t>((state_.bytes[i] & ~writable_[i]) | (saved.bytes[i] & writable_[i]));
  }
  candidate.bytes[pci::kInterruptLine] = saved.bytes[pci::kInterruptLine];
  // The device-owned status bits travel too (e.g. the INTx interrupt bit).
  std::memcpy(&candidate.bytes[pci::kStatus], &saved.bytes[pci::kStatus], 2);
  state_ = candidate;
  return true;
}

}  // namespace ferry
