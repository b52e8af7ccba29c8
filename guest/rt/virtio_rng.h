// virtio-rng driver (spec 5.4): one request queue of device-writable buffers that the
// device fills with entropy.
#pragma once

#include <stdint.h>

#include "rt/virtio.h"
#include "rt/virtqueue.h"

namespace guest::virtio {

class RngDevice {
 public:
  void open(Transport& t);
  // Asks for up to bytes of entropy into buffer (guest RAM) and waits; returns how many
  // the device wrote (it may write fewer, even 0).
  uint32_t read(void* buffer, uint32_t bytes);

 private:
  Transport* transport_ = nullptr;
  Virtqueue vq_;
};

}  // namespace guest::virtio
