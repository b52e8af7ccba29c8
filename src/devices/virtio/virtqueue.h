// The device side of a split virtqueue (virtio 1.x, 2.7) over guest memory.
//
// Everything in the rings is hostile input: every index, length and address
// is checked, a chain may visit at most as many descriptors as its table
// holds (so a loop ends), and any violation comes back as an error that the
// transport turns into DEVICE_NEEDS_RESET. Every byte written into guest
// memory goes through GuestMemory's dirty-marking writers.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.h"
#include "machine/guest_memory.h"

namespace ferry {

// The plain state of one queue (saved and restored as is; docs/state-format.md).
struct QueueState {
  uint64_t desc_addr = 0;
  uint64_t avail_addr = 0;
  uint64_t used_addr = 0;
  uint16_t size = 0;  // the driver's choice, at most the device's maximum
  uint16_t msix_vector = 0xffff;
  uint16_t last_avail_idx = 0;  // next avail ring slot the device will take
  uint16_t used_idx = 0;        // next used ring slot the device will fill
  uint16_t signalled_used = 0;  // used_idx when the driver was last notified
  uint8_t enabled = 0;
  uint8_t signalled_valid = 0;  // 0 until the first notification decision
  uint32_t reserved = 0;
};
static_assert(sizeof(QueueState) == 40);

// One request: its buffers, device-readable first, then device-writable.
struct DescriptorChain {
  uint16_t head = 0;
  std::vector<GuestRange> readable;
  std::vector<GuestRange> writable;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
};

class Virtqueue {
 public:
  explicit Virtqueue(uint16_t max_size) : max_size_(max_size) { Reset(); }

  uint16_t max_size() const { return max_size_; }
  QueueState& state() { return state_; }
  const QueueState& state() const { return state_; }
  void Reset();
  void set_event_idx(bool on) { event_idx_ = on; }
  bool event_idx() const { return event_idx_; }

  // Checks the configuration (size a power of two within the maximum, ring
  // areas aligned and inside RAM) before the queue is used.
  Status Validate(const GuestMemory& memory) const;
  // Checks restored state: Validate, plus indices that make sense.
  Status ValidateRestored(const GuestMemory& memory) const;

  // The next available chain, or nullopt when the driver has offered none.
  Result<std::optional<DescriptorChain>> Pop(const GuestMemory& memory);
  // Returns chain `head` to the driver with `written` bytes written into it.
  Status PushUsed(GuestMemory& memory, uint16_t head, uint32_t written);
  // After PushUsed: whether the driver wants an interrupt now (EVENT_IDX's
  // used_event, or the avail ring's NO_INTERRUPT flag).
  Result<bool> ShouldNotify(const GuestMemory& memory);
  // With EVENT_IDX: asks the driver to notify at the next new buffer, then
  // returns whether buffers arrived meanwhile (the caller must look again).
  Result<bool> ArmNotification(GuestMemory& memory);

 private:
  Result<uint16_t> ReadU16(const GuestMemory& memory, uint64_t gpa) const;
  Status WalkChain(const GuestMemory& memory, uint16_t head, DescriptorChain& chain) const;

  uint16_t max_size_;
  bool event_idx_ = false;
  QueueState state_;
};

}  // namespace ferry
