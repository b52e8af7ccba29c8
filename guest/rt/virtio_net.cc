#include "rt/virtio_net.h"

#include "rt/arena.h"
#include "rt/virtio_device.h"

namespace guest::virtio {
namespace {

constexpr const char* kDriver = "virtio-net";
constexpr uint64_t kFMac = 1ull << 5;
constexpr uint64_t kFStatus = 1ull << 16;
constexpr uint64_t kFCtrlVq = 1ull << 17;
constexpr uint64_t kFGuestAnnounce = 1ull << 21;
constexpr uint64_t kAnnounceFeatures = kFStatus | kFCtrlVq | kFGuestAnnounce;
constexpr uint32_t kCfgMac = 0;
constexpr uint32_t kCfgStatus = 6;
constexpr uint16_t kStatusAnnounce = 2;
constexpr uint16_t kRxQueue = 0;
constexpr uint16_t kTxQueue = 1;
constexpr uint16_t kCtrlQueue = 2;  // without VIRTIO_NET_F_MQ
constexpr uint8_t kCtrlAnnounce = 3;
constexpr uint8_t kCtrlAnnounceAck = 0;
constexpr uint8_t kCtrlOk = 0;

}  // namespace

void NetDevice::open(Transport& t) {
  transport_ = &t;
  features_ = negotiate(t, kFEventIdx | kFMac | kAnnounceFeatures, kDriver);
  if (features_ & kFMac) {
    for (uint32_t i = 0; i < 6; ++i) mac_[i] = t.config8(kCfgMac + i);
    mac_from_device_ = true;
  }
  setup_queue(t, rx_, kRxQueue, kMaxBuffers, features_, kDriver);
  setup_queue(t, tx_, kTxQueue, kMaxBuffers, features_, kDriver);
  if ((features_ & kAnnounceFeatures) == kAnnounceFeatures) {
    setup_queue(t, ctrl_, kCtrlQueue, 4, features_, kDriver);
    ctrl_buffer_ = static_cast<uint8_t*>(arena::alloc(64, 64));
  }
  rx_buffers_ = static_cast<uint8_t*>(arena::alloc(uint64_t{rx_.size()} * kBufferSize, 4096));
  tx_buffers_ = static_cast<uint8_t*>(arena::alloc(uint64_t{tx_.size()} * kBufferSize, 4096));
  for (int i = tx_.size() - 1; i >= 0; --i) tx_free_[tx_free_count_++] = i;
  // The spec wants receive buffers in place before DRIVER_OK (5.1.5).
  for (int i = 0; i < rx_.size(); ++i) post_rx(i);
  rx_.kick();
  driver_ok(t);
  check_device(t, kDriver);
}

bool NetDevice::announce_requested() {
  return guest_announce() && (transport_->config16(kCfgStatus) & kStatusAnnounce) != 0;
}

bool NetDevice::ack_announce() {
  ctrl_buffer_[0] = kCtrlAnnounce;
  ctrl_buffer_[1] = kCtrlAnnounceAck;
  ctrl_buffer_[2] = 0xff;  // the device overwrites it
  uint64_t at = arena::address_of(ctrl_buffer_);
  Segment s[2] = {{at, 2, false}, {at + 2, 1, true}};
  if (!ctrl_.add(s, 2, 0)) return false;
  ctrl_.kick();
  Used used = wait_used(*transport_, ctrl_, kDriver);
  const volatile uint8_t* ack = ctrl_buffer_ + 2;  // written by the device, not by us
  return used.length >= 1 && *ack == kCtrlOk;
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
