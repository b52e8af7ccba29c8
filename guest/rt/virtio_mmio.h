// The virtio-mmio transport, version 2 ("modern", spec 4.2.2). Version 1 (legacy) is
// refused with a clear message: QEMU's virtio-mmio defaults to it (force-legacy=true),
// so QEMU needs -global virtio-mmio.force-legacy=false.
#pragma once

#include <stdint.h>

#include "rt/virtio.h"

namespace guest::virtio {

class MmioTransport final : public Transport {
 public:
  enum class Probe { kDevice, kEmpty, kNotVirtio, kLegacy };

  // Looks at the registers at base: a version-2 device, an empty slot (device id 0), a
  // legacy one, or no virtio-mmio at all.
  Probe attach(uint64_t base);

  const char* where() const override { return where_; }
  uint32_t device_type() const override { return type_; }
  void reset() override;
  uint8_t status() override;
  void set_status(uint8_t status) override;
  uint64_t device_features() override;
  void set_driver_features(uint64_t features) override;
  uint16_t queue_max_size(uint16_t q) override;
  void queue_enable(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
                    uint64_t used) override;
  void notify(uint16_t q) override;
  uint8_t config_generation() override;
  uint8_t config8(uint32_t offset) override;
  uint16_t config16(uint32_t offset) override;
  uint32_t config32(uint32_t offset) override;

 private:
  char where_[24] = {};
  uint64_t base_ = 0;
  uint32_t type_ = 0;
};

}  // namespace guest::virtio
