// A PCI type-0 configuration space (256 bytes) with the semantics a guest's
// PCI code relies on: read-only identification, a capability list, BAR
// sizing (write all ones, read back the size mask) and per-bit write masks.
//
// ferry assigns BARs itself, like firmware does. A guest may size a BAR and
// write back the assigned address; a whole-dword write of any other address
// puts the assigned one back (reported once on stderr): the MMIO bus is fixed
// once the vCPUs run, so BARs cannot move, and decoding is always at the
// assigned address. Byte or word writes are kept as written (a guest sizing
// a BAR piecewise passes through such values). docs/devices.md.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace ferry {

inline constexpr size_t kPciConfigSize = 256;
inline constexpr int kPciBarCount = 6;

namespace pci {
inline constexpr uint32_t kVendorId = 0x00;
inline constexpr uint32_t kCommand = 0x04;
inline constexpr uint32_t kStatus = 0x06;
inline constexpr uint32_t kRevision = 0x08;
inline constexpr uint32_t kBar0 = 0x10;
inline constexpr uint32_t kSubsystemVendor = 0x2c;
inline constexpr uint32_t kCapabilityPointer = 0x34;
inline constexpr uint32_t kInterruptLine = 0x3c;
inline constexpr uint32_t kInterruptPin = 0x3d;
inline constexpr uint16_t kCommandIo = 1 << 0;
inline constexpr uint16_t kCommandMemory = 1 << 1;
inline constexpr uint16_t kCommandBusMaster = 1 << 2;
inline constexpr uint16_t kCommandIntxDisable = 1 << 10;
inline constexpr uint16_t kStatusCapabilities = 1 << 4;
inline constexpr uint16_t kStatusInterrupt = 1 << 3;
inline constexpr uint8_t kCapVendor = 0x09;
inline constexpr uint8_t kCapMsix = 0x11;
}  // namespace pci

struct PciIds {
  uint16_t vendor;
  uint16_t device;
  uint8_t revision;
  uint32_t class_code;  // base class << 16 | subclass << 8 | programming interface
  uint16_t subsystem_vendor;
  uint16_t subsystem;
  uint8_t header_type = 0;
};

// Everything a PCI function's config space holds that can change: the bytes
// (command, BAR registers, interrupt line, capability registers).
struct PciConfigState {
  std::array<uint8_t, kPciConfigSize> bytes{};
};

class PciConfigSpace {
 public:
  explicit PciConfigSpace(const PciIds& ids, std::string name);

  // Declares BAR `index` as a 32-bit memory BAR of `size` bytes (a power of
  // two, at least 16), then gives it its address (aligned to its size).
  void DeclareBar(int index, uint32_t size);
  void AssignBar(int index, uint32_t address);
  uint32_t bar_size(int index) const { return bar_size_[index]; }
  uint32_t bar_address(int index) const;

  // Appends a capability; `body` starts with the id byte, its next pointer
  // (byte 1) is filled in here. Bits set in `writable` (same length, may be
  // empty) are guest-writable. Returns the capability's offset.
  uint8_t AddCapability(std::span<const uint8_t> body, std::span<const uint8_t> writable = {});
  void SetInterruptPin(uint8_t pin, uint8_t line);

  void Read(uint32_t offset, std::span<uint8_t> data) const;
  void Write(uint32_t offset, std::span<const uint8_t> data);

  uint8_t byte(uint32_t offset) const { return state_.bytes[offset]; }
  uint16_t word(uint32_t offset) const;
  uint32_t dword(uint32_t offset) const;
  // Device-owned bits that the guest cannot write (e.g. the status register's
  // interrupt bit).
  void SetWordBits(uint32_t offset, uint16_t bits, bool on);

  PciConfigState Save() const { return state_; }
  // The restored BARs must hold this side's assigned address (or the size
  // mask, mid-sizing): the BARs are fixed. Returns false otherwise and leaves
  // the space unchanged.
  bool Restore(const PciConfigState& state);

 private:
  uint32_t ReadDword(uint32_t aligned) const;
  void WriteBar(int index, uint32_t value, bool whole);
  void SetDword(uint32_t offset, uint32_t value);

  std::string name_;
  PciConfigState state_;
  std::array<uint8_t, kPciConfigSize> writable_{};
  std::array<uint32_t, kPciBarCount> bar_size_{};
  std::array<uint32_t, kPciBarCount> bar_assigned_{};
  uint8_t next_cap_ = 0x40;
  uint8_t last_cap_ = 0;
  bool warned_bar_move_ = false;
};

}  // namespace ferry
