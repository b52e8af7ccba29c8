#include "rt/virtio_pci.h"

#include "rt/format.h"
#include "rt/mmio.h"
#include "rt/x86.h"

namespace guest::virtio {
namespace {

// struct virtio_pci_cap (spec 4.1.4): cap_vndr, cap_next, cap_len, cfg_type, bar, id,
// padding[2], offset, length; NOTIFY_CFG adds notify_off_multiplier.
constexpr uint8_t kCapVendor = 0x09;
constexpr uint8_t kCfgCommon = 1;
constexpr uint8_t kCfgNotify = 2;
constexpr uint8_t kCfgIsr = 3;
constexpr uint8_t kCfgDevice = 4;

// struct virtio_pci_common_cfg (spec 4.1.4.3).
constexpr uint64_t kDeviceFeatureSelect = 0;
constexpr uint64_t kDeviceFeature = 4;
constexpr uint64_t kDriverFeatureSelect = 8;
constexpr uint64_t kDriverFeature = 12;
constexpr uint64_t kMsixConfig = 16;
constexpr uint64_t kDeviceStatus = 20;
constexpr uint64_t kConfigGeneration = 21;
constexpr uint64_t kQueueSelect = 22;
constexpr uint64_t kQueueSize = 24;
constexpr uint64_t kQueueMsixVector = 26;
constexpr uint64_t kQueueEnable = 28;
constexpr uint64_t kQueueNotifyOff = 30;
constexpr uint64_t kQueueDesc = 32;
constexpr uint64_t kQueueDriver = 40;
constexpr uint64_t kQueueDevice = 48;

constexpr uint16_t kNoVector = 0xffff;  // no MSI-X: this guest polls

void write64(uint64_t address, uint64_t value) {
  // The spec lets the driver write the two halves of a 64-bit field separately.
  mmio::write32(address, static_cast<uint32_t>(value));
  mmio::write32(address + 4, static_cast<uint32_t>(value >> 32));
}

}  // namespace

uint32_t PciTransport::type_of(const pci::Function& f) {
  if (f.vendor != kVendor) return 0;
  if (f.device >= 0x1040 && f.device <= 0x107f) return f.device - 0x1040u;
  if (f.device >= 0x1000 && f.device <= 0x103f) return f.subsystem;  // transitional
  return 0;
}

bool PciTransport::attach(const pci::Function& f, const char** why) {
  type_ = type_of(f);
  snformat(where_, sizeof(where_), "pci %02x:%02x.%x", f.address.bus, f.address.device,
           f.address.function);
  for (uint8_t cap = pci::first_capability(f.address); cap != 0;
       cap = pci::next_capability(f.address, cap)) {
    if (pci::read8(f.address, cap) != kCapVendor) continue;
    uint8_t cfg_type = pci::read8(f.address, static_cast<uint16_t>(cap + 3));
    uint8_t bar = pci::read8(f.address, static_cast<uint16_t>(cap + 4));
    uint32_t offset = pci::read32(f.address, static_cast<uint16_t>(cap + 8));
    if (bar > 5 || f.bars[bar].io || f.bars[bar].size == 0 || f.bars[bar].base == 0) continue;
    uint64_t address = f.bars[bar].base + offset;
    // The first usable capability of each type is the one to use (spec 4.1.4.1).
    switch (cfg_type) {
      case kCfgCommon:
        if (common_ == 0) common_ = address;
        break;
      case kCfgNotify:
        if (notify_base_ == 0) {
          notify_base_ = address;
          notify_multiplier_ = pci::read32(f.address, static_cast<uint16_t>(cap + 16));
        }
        break;
      case kCfgIsr:
        if (isr_ == 0) isr_ = address;
        break;
      case kCfgDevice:
        if (device_ == 0) device_ = address;
        break;
      default:
        break;
    }
  }
  if (common_ == 0 || notify_base_ == 0) {
    *why = "no modern virtio-pci capabilities (legacy-only device)";
    return false;
  }
  if (device_ == 0 && (type_ == kTypeBlock || type_ == kTypeNet)) {
    *why = "no DEVICE_CFG capability";
    return false;
  }
  pci::enable_memory_and_master(f.address);
  mmio::write16(common_ + kMsixConfig, kNoVector);
  return true;
}

void PciTransport::reset() {
  mmio::write8(common_ + kDeviceStatus, 0);
  // Reset is done when the status reads back 0 (spec 4.1.4.3.2).
  while (mmio::read8(common_ + kDeviceStatus) != 0) x86::pause();
}

uint8_t PciTransport::status() {
  return mmio::read8(common_ + kDeviceStatus);
}

void PciTransport::set_status(uint8_t status) {
  mmio::write8(common_ + kDeviceStatus, status);
}

uint64_t PciTransport::device_features() {
  mmio::write32(common_ + kDeviceFeatureSelect, 0);
  uint64_t low = mmio::read32(common_ + kDeviceFeature);
  mmio::write32(common_ + kDeviceFeatureSelect, 1);
  uint64_t high = mmio::read32(common_ + kDeviceFeature);
  return high << 32 | low;
}

void PciTransport::set_driver_features(uint64_t features) {
  mmio::write32(common_ + kDriverFeatureSelect, 0);
  mmio::write32(common_ + kDriverFeature, static_cast<uint32_t>(features));
  mmio::write32(common_ + kDriverFeatureSelect, 1);
  mmio::write32(common_ + kDriverFeature, static_cast<uint32_t>(features >> 32));
}

uint16_t PciTransport::queue_max_size(uint16_t q) {
  mmio::write16(common_ + kQueueSelect, q);
  return mmio::read16(common_ + kQueueSize);
}

void PciTransport::queue_enable(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
                                uint64_t used) {
  mmio::write16(common_ + kQueueSelect, q);
  mmio::write16(common_ + kQueueSize, size);
  mmio::write16(common_ + kQueueMsixVector, kNoVector);
  write64(common_ + kQueueDesc, desc);
  write64(common_ + kQueueDriver, avail);
  write64(common_ + kQueueDevice, used);
  uint16_t notify_off = mmio::read16(common_ + kQueueNotifyOff);
  if (q < kMaxQueues) {
    notify_[q] = notify_base_ + static_cast<uint64_t>(notify_off) * notify_multiplier_;
  }
  mmio::write16(common_ + kQueueEnable, 1);
}

void PciTransport::notify(uint16_t q) {
  // Without VIRTIO_F_NOTIFICATION_DATA the value written is the queue index.
  if (q < kMaxQueues) mmio::write16(notify_[q], q);
}

uint8_t PciTransport::config_generation() {
  return mmio::read8(common_ + kConfigGeneration);
}

uint8_t PciTransport::config8(uint32_t offset) {
  return mmio::read8(device_ + offset);
}

uint16_t PciTransport::config16(uint32_t offset) {
  return mmio::read16(device_ + offset);
}

uint32_t PciTransport::config32(uint32_t offset) {
  return mmio::read32(device_ + offset);
}

}  // namespace guest::virtio
