// virtio-rng (virtio 1.x, 5.4): one queue whose buffers the device fills
// with bytes from getrandom(2). No configuration, no state of its own.
#pragma once

#include "devices/virtio/virtio_device.h"

namespace ferry {

class VirtioRng final : public VirtioDevice {
 public:
  uint32_t device_type() const override;
  uint64_t device_features() const override { return 0; }
  uint16_t num_queues() const override { return 1; }
  uint32_t pci_class() const override { return 0xff0000; }  // unclassified device
  void ReadConfig(uint64_t, std::span<uint8_t> data) const override;
  Result<uint32_t> HandleRequest(uint16_t queue, const DescriptorChain& chain,
                                 GuestMemory& memory) override;
};

}  // namespace ferry
