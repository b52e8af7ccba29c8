// The driver side of a split virtqueue (spec 2.7): descriptor table, available ring and
// used ring in guest RAM, polled for completions (this guest takes no interrupts).
//
// Ordering (spec 2.7.13, "Supplying Buffers"): descriptors and the ring entry are
// written before avail->idx, and used->idx is read before the used entries and the
// buffers it covers. x86 keeps stores in order with stores and loads with loads, so a
// compiler barrier is all either needs. The exception is notification suppression: the
// store to avail->idx must be visible before the load of avail_event (or used->flags)
// that decides whether to notify, or the device may miss a buffer; x86 lets a load pass
// an earlier store, so kick() puts an MFENCE between them.
//
// VIRTIO_F_EVENT_IDX, when negotiated: kick() notifies only when the device's
// avail_event lies among the entries made available since the last kick, and used_event
// always names an entry the device has already used (last seen - 1), so the device
// never needs to interrupt (spec 2.7.10). Without it, avail->flags says
// VRING_AVAIL_F_NO_INTERRUPT and kick() honours VRING_USED_F_NO_NOTIFY.
// Indirect descriptors are not used.
#pragma once

#include <stdint.h>

#include "rt/virtio.h"

namespace guest::virtio {

struct Segment {
  uint64_t address;  // guest-physical
  uint32_t length;
  bool device_writes;  // VIRTQ_DESC_F_WRITE: the device fills it
};

struct Used {
  uint64_t cookie;  // what add() was given for the chain
  uint32_t length;  // bytes the device wrote into the chain's writable part
};

class Virtqueue {
 public:
  static constexpr uint16_t kMaxSize = 256;

  // Allocates the rings (min(device maximum, wanted, kMaxSize) entries, a power of two)
  // and enables queue q. False when the device has no such queue.
  bool setup(Transport& transport, uint16_t q, uint16_t wanted, bool event_idx);

  uint16_t size() const { return size_; }
  uint16_t free_descriptors() const { return free_count_; }
  // Chains made available and not yet returned.
  uint16_t in_flight() const { return static_cast<uint16_t>(avail_shadow_ - last_used_); }

  // Queues a chain of n segments, device-readable ones first (spec 2.7.4.2). It becomes
  // visible to the device at the next kick(). False when descriptors are short.
  bool add(const Segment* segments, int n, uint64_t cookie);
  // Publishes what add() queued and notifies the device unless it suppressed that.
  void kick();
  // Takes one completed chain off the used ring; false when there is none.
  bool poll(Used* out);

  uint64_t kicks() const { return kicks_; }
  uint64_t notifications() const { return notifications_; }

 private:
  struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
  };
  struct UsedElem {
    uint32_t id;
    uint32_t len;
  };

  volatile uint16_t& avail_flags() { return avail_[0]; }
  volatile uint16_t& avail_idx() { return avail_[1]; }
  volatile uint16_t& used_event() { return avail_[2 + size_]; }
  volatile uint16_t& used_flags() { return *reinterpret_cast<volatile uint16_t*>(used_); }
  volatile uint16_t& used_idx() { return *reinterpret_cast<volatile uint16_t*>(used_ + 2); }
  volatile UsedElem& used_elem(uint16_t i) {
    return reinterpret_cast<volatile UsedElem*>(used_ + 4)[i];
  }
  volatile uint16_t& avail_event() {
    return *reinterpret_cast<volatile uint16_t*>(used_ + 4 + 8 * size_);
  }

  Transport* transport_ = nullptr;
  uint16_t index_ = 0;
  uint16_t size_ = 0;
  bool event_idx_ = false;
  Desc* desc_ = nullptr;
  volatile uint16_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;

  uint16_t free_head_ = 0;
  uint16_t free_count_ = 0;
  uint16_t avail_shadow_ = 0;  // avail->idx once the queued chains are published
  uint16_t kicked_idx_ = 0;    // avail->idx at the last kick()
  uint16_t last_used_ = 0;     // used->idx up to which completions were taken
  uint64_t cookies_[kMaxSize] = {};
  uint64_t kicks_ = 0;
  uint64_t notifications_ = 0;
};

}  // namespace guest::virtio
