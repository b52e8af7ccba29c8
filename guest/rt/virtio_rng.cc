#include "rt/virtio_rng.h"

#include "rt/arena.h"
#include "rt/virtio_device.h"

namespace guest::virtio {
namespace {
constexpr const char* kDriver = "virtio-rng";
}  // namespace

void RngDevice::open(Transport& t) {
  transport_ = &t;
  uint64_t features = negotiate(t, kFEventIdx, kDriver);
  setup_queue(t, vq_, 0, 8, features, kDriver);
  driver_ok(t);
  check_device(t, kDriver);
}

uint32_t RngDevice::read(void* buffer, uint32_t bytes) {
  Segment s{arena::address_of(buffer), bytes, true};
  vq_.add(&s, 1, 0);
  vq_.kick();
  Used used = wait_used(*transport_, vq_, kDriver);
  return used.length > bytes ? bytes : used.length;
}

}  // namespace guest::virtio
