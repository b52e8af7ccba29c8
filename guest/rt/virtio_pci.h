// The virtio-pci modern transport (spec 4.1): vendor 0x1af4, device 0x1040 + type (or a
// transitional 0x1000-0x103f whose subsystem id gives the type), with its registers in
// memory BARs found through vendor-specific capabilities: COMMON_CFG, NOTIFY_CFG,
// ISR_CFG and DEVICE_CFG. The legacy I/O-port interface is not used.
#pragma once

#include <stdint.h>

#include "rt/pci.h"
#include "rt/virtio.h"

namespace guest::virtio {

class PciTransport final : public Transport {
 public:
  static constexpr uint16_t kVendor = 0x1af4;
  static constexpr int kMaxQueues = 8;

  // The virtio type of a PCI function, 0 when it is not a virtio device.
  static uint32_t type_of(const pci::Function& f);

  // Finds the capabilities and enables memory decoding and bus mastering. False (with
  // *why set) when the device lacks the modern interface or a BAR is unusable.
  bool attach(const pci::Function& f, const char** why);

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
  char where_[16] = {};
  uint32_t type_ = 0;
  uint64_t common_ = 0;  // guest-physical addresses of the structures
  uint64_t notify_base_ = 0;
  uint32_t notify_multiplier_ = 0;
  uint64_t isr_ = 0;
  uint64_t device_ = 0;
  uint64_t notify_[kMaxQueues] = {};  // per queue, once enabled
};

}  // namespace guest::virtio
