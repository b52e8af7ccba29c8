// Constants of the virtio 1.x specification shared by the transports and drivers, and
// the transport interface that keeps the queue code and drivers transport-independent.
#pragma once

#include <stdint.h>

namespace guest::virtio {

// Device types (spec 5, "Device Types").
inline constexpr uint32_t kTypeNet = 1;
inline constexpr uint32_t kTypeBlock = 2;
inline constexpr uint32_t kTypeRng = 4;

// "virtio-blk", "virtio-net", "virtio-rng", or "virtio-N".
const char* type_name(uint32_t type, char (&buf)[16]);

// Device status bits (spec 2.1).
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 64;
inline constexpr uint8_t kStatusFailed = 128;

// Reserved feature bits (spec 6).
inline constexpr uint64_t kFIndirectDesc = 1ull << 28;
inline constexpr uint64_t kFEventIdx = 1ull << 29;
inline constexpr uint64_t kFVersion1 = 1ull << 32;

// What a driver needs from a transport (virtio-pci modern or virtio-mmio version 2).
// Implementations talk to registers only; the rings live in guest RAM (virtqueue.h).
class Transport {
 public:
  // "pci 00:02.0" or "mmio 0xfeb00e00": says which device a message is about.
  virtual const char* where() const = 0;
  virtual uint32_t device_type() const = 0;

  // Writes 0 to the status and waits until the device reads back 0 (reset done).
  virtual void reset() = 0;
  virtual uint8_t status() = 0;
  virtual void set_status(uint8_t status) = 0;

  virtual uint64_t device_features() = 0;
  virtual void set_driver_features(uint64_t features) = 0;

  // The largest size queue q may have; 0 when the device has no such queue.
  virtual uint16_t queue_max_size(uint16_t q) = 0;
  // Programs queue q's size and ring addresses and enables it.
  virtual void queue_enable(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
                            uint64_t used) = 0;
  // Tells the device that queue q has new available buffers.
  virtual void notify(uint16_t q) = 0;

  virtual uint8_t config_generation() = 0;
  // Device-specific configuration, little endian, at offset.
  virtual uint8_t config8(uint32_t offset) = 0;
  virtual uint16_t config16(uint32_t offset) = 0;
  virtual uint32_t config32(uint32_t offset) = 0;

  // A 64-bit field read as two halves; repeated until the configuration generation
  // stays the same across both reads (spec 2.5.1: the device may change it meanwhile).
  uint64_t config64(uint32_t offset);

 protected:
  ~Transport() = default;
};

}  // namespace guest::virtio
