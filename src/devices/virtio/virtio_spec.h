// Numbers from the virtio 1.x specification (docs.oasis-open.org/virtio):
// device status bits, feature bits, ring flags and device types.
#pragma once

#include <cstdint>

namespace ferry::virtio {

// 2.1 Device status field.
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 0x40;
inline constexpr uint8_t kStatusFailed = 0x80;

// 6 Reserved feature bits (the transport-level ones ferry offers).
inline constexpr int kFeatureIndirectDesc = 28;
inline constexpr int kFeatureEventIdx = 29;
inline constexpr int kFeatureVersion1 = 32;

constexpr uint64_t Bit(int feature) {
  return uint64_t{1} << feature;
}

// 2.7.5 The virtqueue descriptor table.
inline constexpr uint16_t kDescNext = 1;
inline constexpr uint16_t kDescWrite = 2;
inline constexpr uint16_t kDescIndirect = 4;
inline constexpr uint16_t kAvailNoInterrupt = 1;

// 5 Device types.
inline constexpr uint32_t kDeviceBlock = 2;
inline constexpr uint32_t kDeviceRng = 4;

// 4.1 PCI: vendor 0x1af4, device 0x1040 + type for modern-only devices.
inline constexpr uint16_t kPciVendor = 0x1af4;
inline constexpr uint16_t kPciDeviceBase = 0x1040;
inline constexpr uint16_t kNoVector = 0xffff;

// ISR status bits (4.1.4.5).
inline constexpr uint8_t kIsrQueue = 1;
inline constexpr uint8_t kIsrConfig = 2;

}  // namespace ferry::virtio
