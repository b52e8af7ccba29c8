// What a virtio device type (block, rng, ...) implements; the PCI transport
// (virtio_pci.h) does the rest: registers, feature negotiation, queues,
// interrupts, the worker thread, quiesce and state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "devices/virtio/virtqueue.h"
#include "machine/guest_memory.h"

namespace ferry {

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual uint32_t device_type() const = 0;  // virtio::kDeviceBlock, ...
  // Device-specific feature bits; the transport adds VERSION_1, EVENT_IDX and
  // INDIRECT_DESC.
  virtual uint64_t device_features() const = 0;
  virtual uint16_t num_queues() const = 0;
  virtual uint16_t max_queue_size() const { return 256; }
  // PCI class code (base << 16 | sub << 8 | interface).
  virtual uint32_t pci_class() const = 0;

  // The device-specific configuration structure (4.1.4.6).
  virtual void ReadConfig(uint64_t offset, std::span<uint8_t> data) const = 0;
  virtual void WriteConfig(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {}

  // Handles one request from queue `queue`, on the device's worker thread,
  // and returns how many bytes it wrote into the chain's writable buffers.
  // A request the device refuses is answered in the request's own status
  // (I/O error, unsupported); an error here means the chain itself is
  // malformed, and the transport marks the device DEVICE_NEEDS_RESET.
  virtual Result<uint32_t> HandleRequest(uint16_t queue, const DescriptorChain& chain,
                                         GuestMemory& memory) = 0;

  // Work that does not come from the driver (virtio-net: frames arriving on
  // a TAP). The worker also watches device_fds(), edge-triggered and without
  // reading them, and calls DeviceEvent(fd) on its thread when one becomes
  // readable, before it serves the queues again.
  virtual std::vector<int> device_fds() const { return {}; }
  virtual void DeviceEvent(int /*fd*/) {}
  // Whether the device can use a chain from `queue` now; the transport pops
  // chains only then (a receive queue while frames wait), so buffers the
  // driver offers early stay in the ring.
  virtual bool HasWork(uint16_t /*queue*/) const { return true; }
  // HandleRequest returns this when it found nothing to do with the chain
  // after all (the TAP ran dry): the transport gives the chain back to the
  // ring untouched and stops serving the queue until HasWork says so again.
  static constexpr uint32_t kChainUnused = 0xffffffff;

  // The driver reset the device (status 0).
  virtual void Reset() {}
};

}  // namespace ferry
