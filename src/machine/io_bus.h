// Dispatch of guest port I/O and MMIO accesses to the device that owns the
// address. The bus is built before the vCPUs start and is read-only after, so
// lookups take no lock; devices do their own locking.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace ferry {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  // `offset` is relative to the device's base address on the bus.
  virtual void Read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class IoBus {
 public:
  explicit IoBus(std::string name) : name_(std::move(name)) {}

  // Refuses ranges that overlap a device already registered.
  Status Register(uint64_t base, uint64_t length, IoDevice* device, std::string device_name);

  // Returns false when no device claims the address: reads then see all ones.
  bool Read(uint64_t address, std::span<uint8_t> data) const;
  bool Write(uint64_t address, std::span<const uint8_t> data) const;

 private:
  struct Range {
    uint64_t base;
    uint64_t length;
    IoDevice* device;
    std::string name;
  };
  const Range* Find(uint64_t address) const;

  std::string name_;
  std::vector<Range> ranges_;  // sorted by base
};

}  // namespace ferry
