#include "rt/virtio_mmio.h"

#include "rt/format.h"
#include "rt/mmio.h"
#include "rt/x86.h"

namespace guest::virtio {
namespace {

// Register offsets (spec 4.2.2).
constexpr uint64_t kMagic = 0x000;
constexpr uint64_t kVersion = 0x004;
constexpr uint64_t kDeviceId = 0x008;
constexpr uint64_t kDeviceFeatures = 0x010;
constexpr uint64_t kDeviceFeaturesSel = 0x014;
constexpr uint64_t kDriverFeatures = 0x020;
constexpr uint64_t kDriverFeaturesSel = 0x024;
constexpr uint64_t kQueueSel = 0x030;
constexpr uint64_t kQueueNumMax = 0x034;
constexpr uint64_t kQueueNum = 0x038;
constexpr uint64_t kQueueReady = 0x044;
constexpr uint64_t kQueueNotify = 0x050;
constexpr uint64_t kStatus = 0x070;
constexpr uint64_t kQueueDescLow = 0x080;
constexpr uint64_t kQueueDriverLow = 0x090;
constexpr uint64_t kQueueDeviceLow = 0x0a0;
constexpr uint64_t kConfigGeneration = 0x0fc;
constexpr uint64_t kConfig = 0x100;

constexpr uint32_t kMagicValue = 0x74726976;  // "virt"

}  // namespace

MmioTransport::Probe MmioTransport::attach(uint64_t base) {
  base_ = base;
  snformat(where_, sizeof(where_), "mmio 0x%lx", base);
  if (mmio::read32(base + kMagic) != kMagicValue) return Probe::kNotVirtio;
  uint32_t version = mmio::read32(base + kVersion);
  type_ = mmio::read32(base + kDeviceId);
  if (type_ == 0) return Probe::kEmpty;
  return version == 2 ? Probe::kDevice : Probe::kLegacy;
}

void MmioTransport::reset() {
  mmio::write32(base_ + kStatus, 0);
  while (mmio::read32(base_ + kStatus) != 0) x86::pause();
}

uint8_t MmioTransport::status() {
  return static_cast<uint8_t>(mmio::read32(base_ + kStatus));
}

void MmioTransport::set_status(uint8_t status) {
  mmio::write32(base_ + kStatus, status);
}

uint64_t MmioTransport::device_features() {
  mmio::write32(base_ + kDeviceFeaturesSel, 0);
  uint64_t low = mmio::read32(base_ + kDeviceFeatures);
  mmio::write32(base_ + kDeviceFeaturesSel, 1);
  uint64_t high = mmio::read32(base_ + kDeviceFeatures);
  return high << 32 | low;
}

void MmioTransport::set_driver_features(uint64_t features) {
  mmio::write32(base_ + kDriverFeaturesSel, 0);
  mmio::write32(base_ + kDriverFeatures, static_cast<uint32_t>(features));
  mmio::write32(base_ + kDriverFeaturesSel, 1);
  mmio::write32(base_ + kDriverFeatures, static_cast<uint32_t>(features >> 32));
}

uint16_t MmioTransport::queue_max_size(uint16_t q) {
  mmio::write32(base_ + kQueueSel, q);
  if (mmio::read32(base_ + kQueueReady) != 0) return 0;  // in use: not ours to set up
  uint32_t max = mmio::read32(base_ + kQueueNumMax);
  return static_cast<uint16_t>(max > 0xffff ? 0xffff : max);
}

void MmioTransport::queue_enable(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
                                 uint64_t used) {
  mmio::write32(base_ + kQueueSel, q);
  mmio::write32(base_ + kQueueNum, size);
  const uint64_t regs[3] = {kQueueDescLow, kQueueDriverLow, kQueueDeviceLow};
  const uint64_t values[3] = {desc, avail, used};
  for (int i = 0; i < 3; ++i) {
    mmio::write32(base_ + regs[i], static_cast<uint32_t>(values[i]));
    mmio::write32(base_ + regs[i] + 4, static_cast<uint32_t>(values[i] >> 32));
  }
  mmio::write32(base_ + kQueueReady, 1);
}

void MmioTransport::notify(uint16_t q) {
  mmio::write32(base_ + kQueueNotify, q);
}

uint8_t MmioTransport::config_generation() {
  return static_cast<uint8_t>(mmio::read32(base_ + kConfigGeneration));
}

uint8_t MmioTransport::config8(uint32_t offset) {
  return mmio::read8(base_ + kConfig + offset);
}

uint16_t MmioTransport::config16(uint32_t offset) {
  return mmio::read16(base_ + kConfig + offset);
}

uint32_t MmioTransport::config32(uint32_t offset) {
  return mmio::read32(base_ + kConfig + offset);
}

}  // namespace guest::virtio
