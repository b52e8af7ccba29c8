#include "rt/virtio_net.h"

#include "rt/arena.h"
#include "rt/virtio_device.h"

namespace guest::virtio {
namespace {

constexpr const char* kDriver = "virtio-net";
constexpr uint64_t kFMac = 1ull << 5;
constexpr uint32_t kCfgMac = 0;
constexpr uint16_t kRxQueue = 0;
constexpr uint16_t kTxQueue = 1;

}  // namespace

void NetDevice::open(Transport& t) {
  transport_ = &t;
  features_ = negotiate(t, kFEventIdx | kFMac, kDriver);
  if (features_ & kFMac) {
    for (uint32_t i = 0; i < 6; ++i) mac_[i] = t.config8(kCfgMac + i);
    mac_from_device_ = true;
  }
  setup_queue(t, rx_, kRxQueue, kMaxBuffers, features_, kDriver);
  setup_queue(t, tx_, kTxQueue, kMaxBuffers, features_, kDriver);
  rx_buffers_ = static_cast<uint8_t*>(arena::alloc(uint64_t{rx_.size()} * kBufferSize, 4096));
  tx_buffers_ = static_cast<uint8_t*>(arena::alloc(uint64_t{tx_.size()} * kBufferSize, 4096));
  for (int i = tx_.size() - 1; i >= 0; --i) tx_free_[tx_free_count_++] = i;
  // The spec wants receive buffers in place before DRIVER_OK (5.1.5).
  for (int i = 0; i < rx_.size(); ++i) post_rx(i);
  rx_.kick();
  driver_ok(t);
  check_device(t, kDriver);
}

void NetDevice::post_rx(int buffer) {
  Segment s{arena::address_of(rx_buffers_ + static_cast<uint64_t>(buffer) * kBufferSize),
            kBufferSize, true};
  rx_.add(&s, 1, static_cast<uint64_t>(buffer));
}

bool NetDevice::receive(const uint8_t** frame, uint32_t* length, int* buffer) {
  Used used;
  while (rx_.poll(&used)) {
    int b = static_cast<int>(used.cookie);
    if (used.length <= kHeaderSize || used.length > kBufferSize) {
      ++rx_dropped_;  // runt or impossible length: give the buffer straight back
      post_rx(b);
      continue;
    }
    *frame = rx_buffers_ + static_cast<uint64_t>(b) * kBufferSize + kHeaderSize;
    *length = used.length - kHeaderSize;
    *buffer = b;
    ++rx_frames_;
    return true;
  }
  return false;
}

void NetDevice::recycle(int buffer) {
  post_rx(buffer);
}

void NetDevice::reclaim_tx() {
  Used used;
  while (tx_.poll(&used)) tx_free_[tx_free_count_++] = static_cast<int>(used.cookie);
}

uint8_t* NetDevice::tx_frame() {
  if (tx_free_count_ == 0) reclaim_tx();
  if (tx_free_count_ == 0) return nullptr;
  tx_current_ = tx_free_[tx_free_count_ - 1];
  uint8_t* buffer = tx_buffers_ + static_cast<uint64_t>(tx_current_) * kBufferSize;
  __builtin_memset(buffer, 0, kHeaderSize);  // no offloads: an all-zero header
  return buffer + kHeaderSize;
}

void NetDevice::send(uint32_t length) {
  if (tx_current_ < 0 || length > kMaxFrame) return;
  Segment s{arena::address_of(tx_buffers_ + static_cast<uint64_t>(tx_current_) * kBufferSize),
            kHeaderSize + length, false};
  if (!tx_.add(&s, 1, static_cast<uint64_t>(tx_current_))) return;
  --tx_free_count_;
  tx_current_ = -1;
  ++tx_frames_;
}

void NetDevice::flush() {
  rx_.kick();
  tx_.kick();
}

}  // namespace guest::virtio
