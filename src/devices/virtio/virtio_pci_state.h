// The plain state of a virtio-pci function, apart from the live transport
// (like Firecracker's persist.rs): what a snapshot or a migration carries.
// File descriptors, eventfds and guest memory never appear here.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/pci/msix.h"
#include "devices/pci/pci_config.h"
#include "devices/virtio/virtqueue.h"

namespace ferry {

struct VirtioPciState {
  uint32_t device_type = 0;
  PciConfigState config;
  uint64_t driver_features = 0;
  uint32_t device_feature_select = 0;
  uint32_t driver_feature_select = 0;
  uint16_t config_msix_vector = 0xffff;
  uint16_t queue_select = 0;
  uint8_t status = 0;
  uint8_t config_generation = 0;
  uint8_t isr = 0;
  std::vector<QueueState> queues;
  MsixState msix;
};

}  // namespace ferry
