#include "devices/pci/pci_bus.h"

#include <cstdio>
#include <cstring>

namespace ferry {
namespace {

constexpr uint32_t kEnable = 1u << 31;

// 00:00.0, an Intel-style host bridge that only identifies itself.
class HostBridge final : public PciDevice {
 public:
  HostBridge()
      : config_({.vendor = 0x8086,
                 .device = 0x0d57,
                 .revision = 0,
                 .class_code = 0x060000,  // bridge, host bridge
                 .subsystem_vendor = 0,
                 .subsystem = 0},
                "host bridge") {}
  const std::string& name() const override { return name_; }
  std::vector<Bar> Bars() override { return {}; }

 protected:
  PciConfigSpace& config() override { return config_; }

 private:
  std::string name_ = "host bridge";
  PciConfigSpace config_;
};

}  // namespace

PciBus::PciBus() : host_bridge_(std::make_unique<HostBridge>()) {
  slots_[0] = host_bridge_.get();
}

PciBus::~PciBus() = default;

Result<int> PciBus::Add(PciDevice* device) {
  for (int slot = 1; slot < kPciSlots; ++slot) {
    if (slots_[slot] == nullptr) {
      slots_[slot] = device;
      return slot;
    }
  }
  return Error(ErrorCode::kResourceExhausted, "PCI bus 0 is full (31 devices)");
}

Status PciBus::AssignBars(IoBus& mmio, uint64_t base, uint64_t limit) {
  uint64_t next = base;
  for (PciDevice* device : slots_) {
    if (device == nullptr) continue;
    for (const PciDevice::Bar& bar : device->Bars()) {
      uint64_t size = device->BarSize(bar.index);
      next = (next + size - 1) & ~(size - 1);
      if (next + size > limit) {
        return Error(ErrorCode::kResourceExhausted, "no room for the BARs of " + device->name());
      }
      device->AssignBar(bar.index, static_cast<uint32_t>(next));
      RETURN_IF_ERROR(mmio.Register(next, size, bar.handler,
                                    device->name() + " BAR" + std::to_string(bar.index)));
      next += size;
    }
    RETURN_IF_ERROR(device->BarsAssigned());
  }
  return OkStatus();
}

Status PciBus::RegisterPorts(IoBus& ports) {
  return ports.Register(kPciConfigAddressPort, kPciConfigPorts, this, "PCI config");
}

PciDevice* PciBus::Selected(uint32_t* register_offset) const {
  if ((address_ & kEnable) == 0) return nullptr;
  uint32_t bus = (address_ >> 16) & 0xff;
  uint32_t slot = (address_ >> 11) & 0x1f;
  uint32_t function = (address_ >> 8) & 0x7;
  if (bus != 0 || function != 0) return nullptr;
  *register_offset = address_ & 0xfc;
  return slots_[slot];
}

void PciBus::Read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  if (offset == 0 && data.size() == 4) {
    std::memcpy(data.data(), &address_, 4);
    return;
  }
  uint32_t reg = 0;
  PciDevice* device = offset >= 4 ? Selected(&reg) : nullptr;
  if (device == nullptr) {
    std::memset(data.data(), 0xff, data.size());
    return;
  }
  uint32_t at = reg + static_cast<uint32_t>(offset - 4);
  device->ConfigRead(at, data.first(std::min<size_t>(data.size(), 8 - offset)));
}

void PciBus::Write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  if (offset == 0 && data.size() == 4) {
    std::memcpy(&address_, data.data(), 4);
    return;
  }
  uint32_t reg = 0;
  PciDevice* device = offset >= 4 ? Selected(&reg) : nullptr;
  if (device == nullptr) return;
  uint32_t at = reg + static_cast<uint32_t>(offset - 4);
  device->ConfigWrite(at, data.first(std::min<size_t>(data.size(), 8 - offset)));
}

}  // namespace ferry
