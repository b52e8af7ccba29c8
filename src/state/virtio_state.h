// The virtio devices' state sections (docs/state-format.md): one
// 'virtio-pci' section per device (instance = the device's index in PCI slot
// order, 0 = slot 1) and, for block devices, a 'virtio-blk' section with the
// same instance, and for network devices a 'virtio-net' section likewise.
// The machine section lists the devices (DeviceDescriptor) so
// that a receiver builds the same set before any state arrives.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "devices/virtio/block.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio_pci_state.h"
#include "state/stream.h"

namespace ferry::state {

struct DeviceDescriptor {
  static constexpr uint32_t kReadOnly = 1;
  uint32_t type = 0;   // virtio device type: 1 net, 2 block, 4 rng
  uint32_t flags = 0;  // kReadOnly for a read-only disk
};
static_assert(sizeof(DeviceDescriptor) == 8);

struct VirtioDeviceState {
  VirtioPciState transport;
  BlockState block;  // block devices only
  NetState net;      // network devices only
};

// Devices a ferry knows how to build; others are refused by the loader.
Status CheckDeviceDescriptors(const std::vector<DeviceDescriptor>& devices);

Status WriteVirtioSections(SectionWriter& writer, const std::vector<VirtioDeviceState>& devices);

// Collects the sections of `expected` devices; each exactly once.
class VirtioSectionCollector {
 public:
  explicit VirtioSectionCollector(std::vector<DeviceDescriptor> expected);
  // True when `section` was a virtio section and was taken.
  Result<bool> Take(const Section& section);
  Result<std::vector<VirtioDeviceState>> Finish();

 private:
  std::vector<DeviceDescriptor> expected_;
  std::vector<VirtioDeviceState> devices_;
  std::vector<bool> have_transport_;
  std::vector<bool> have_block_;
  std::vector<bool> have_net_;
};

}  // namespace ferry::state
