// PCI bus 0 behind configuration mechanism #1 (ports 0xCF8 address, 0xCFC-0xCFF
// data), with a host bridge at 00:00.0 and the devices at slots 1.. in the
// order they were added (docs/devices.md). Only function 0 of each slot
// exists; everything else reads as all ones.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/result.h"
#include "devices/pci/pci_config.h"
#include "devices/pci/pci_device.h"
#include "machine/io_bus.h"

namespace ferry {

inline constexpr uint16_t kPciConfigAddressPort = 0xcf8;
inline constexpr uint16_t kPciConfigPorts = 8;  // 0xCF8-0xCFF
inline constexpr int kPciSlots = 32;

class PciBus final : public IoDevice {
 public:
  PciBus();
  ~PciBus() override;

  // Puts `device` in the next free slot (1..31) and returns the slot.
  Result<int> Add(PciDevice* device);
  // Gives every BAR an address like firmware would: in slot order, each
  // aligned to its size, from `base` up to `limit`, and maps it on `mmio`.
  Status AssignBars(IoBus& mmio, uint64_t base, uint64_t limit);
  // Registers the config ports on the port bus.
  Status RegisterPorts(IoBus& ports);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  PciDevice* Selected(uint32_t* register_offset) const;

  std::mutex mu_;
  uint32_t address_ = 0;  // the 0xCF8 register
  std::array<PciDevice*, kPciSlots> slots_{};
  std::unique_ptr<PciDevice> host_bridge_;
};

}  // namespace ferry
