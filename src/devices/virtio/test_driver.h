// A tiny virtio driver for unit tests and benchmarks: lays out a split ring
// in a GuestMemory, builds descriptor chains (direct and indirect), publishes
// them and reads the used ring back. Test-only; never linked into ferry itself.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "devices/interrupts.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "machine/guest_memory.h"

namespace ferry::testing {

// Interrupts nowhere: for drivers that poll.
class NoInterrupts final : public InterruptSink {
 public:
  Status RouteVector(uint16_t, uint64_t, uint32_t) override { return OkStatus(); }
  void FireVector(uint16_t) override {}
  void SetIntx(bool) override {}
};

struct Buffer {
  uint32_t len;
  bool writable;
  uint64_t gpa = 0;  // filled by the driver
};

class TestDriver {
 public:
  static constexpr uint64_t kRingBase = 0x100000;
  static constexpr uint64_t kDataBase = 0x200000;

  // Devices with several queues need one driver per queue at its own bases.
  TestDriver(GuestMemory& memory, uint16_t size, uint64_t ring_base = kRingBase,
             uint64_t data_base = kDataBase)
      : memory_(memory), size_(size), next_data_(data_base) {
    desc_ = ring_base;
    avail_ = desc_ + 16u * size;
    used_ = (avail_ + 6 + 2u * size + 3) & ~uint64_t{3};
  }

  QueueState Layout() const {
    QueueState q;
    q.size = size_;
    q.desc_addr = desc_;
    q.avail_addr = avail_;
    q.used_addr = used_;
    q.enabled = 1;
    return q;
  }

  uint64_t Alloc(uint32_t len) {
    uint64_t at = next_data_;
    next_data_ += (len + 15) & ~15u;
    return at;
  }

  void SetDesc(uint64_t table, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
               uint16_t next) {
    uint8_t d[16];
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
    (void)memory_.Write(table + 16u * index, d);
  }

  // Lays `buffers` out as a direct chain from free descriptors; returns the head.
  uint16_t AddChain(std::vector<Buffer>& buffers) {
    uint16_t head = next_desc_;
    for (size_t i = 0; i < buffers.size(); ++i) {
      buffers[i].gpa = Alloc(buffers[i].len);
      uint16_t flags = (buffers[i].writable ? virtio::kDescWrite : 0) |
                       (i + 1 < buffers.size() ? virtio::kDescNext : 0);
      SetDesc(desc_, next_desc_, buffers[i].gpa, buffers[i].len, flags,
              static_cast<uint16_t>(next_desc_ + 1));
      ++next_desc_;
    }
    return head;
  }

  // One descriptor pointing at an indirect table holding `buffers`.
  uint16_t AddIndirect(std::vector<Buffer>& buffers) {
    uint64_t table = Alloc(static_cast<uint32_t>(16 * buffers.size()));
    for (size_t i = 0; i < buffers.size(); ++i) {
      buffers[i].gpa = Alloc(buffers[i].len);
      uint16_t flags = (buffers[i].writable ? virtio::kDescWrite : 0) |
                       (i + 1 < buffers.size() ? virtio::kDescNext : 0);
      SetDesc(table, static_cast<uint16_t>(i), buffers[i].gpa, buffers[i].len, flags,
              static_cast<uint16_t>(i + 1));
    }
    uint16_t head = next_desc_++;
    SetDesc(desc_, head, table, static_cast<uint32_t>(16 * buffers.size()), virtio::kDescIndirect,
            0);
    return head;
  }

  void Publish(uint16_t head) {
    Put16(avail_ + 4 + 2u * (avail_idx_ % size_), head);
    ++avail_idx_;
    Put16(avail_ + 2, avail_idx_);
  }
  void SetAvailIdx(uint16_t idx) {
    avail_idx_ = idx;
    Put16(avail_ + 2, idx);
  }
  void SetAvailFlags(uint16_t flags) { Put16(avail_, flags); }
  void SetUsedEvent(uint16_t event) { Put16(avail_ + 4 + 2u * size_, event); }
  uint16_t AvailEvent() const { return Get16(used_ + 4 + 8u * size_); }

  uint16_t UsedIdx() const { return Get16(used_ + 2); }
  std::pair<uint32_t, uint32_t> Used(uint16_t slot) const {
    uint32_t e[2];
    std::memcpy(e, *memory_.Translate(used_ + 4 + 8u * (slot % size_), 8), 8);
    return {e[0], e[1]};
  }

  void Fill(uint64_t gpa, const void* data, size_t len) {
    (void)memory_.Write(gpa, {static_cast<const uint8_t*>(data), len});
  }
  std::vector<uint8_t> Read(uint64_t gpa, size_t len) const {
    uint8_t* host = *memory_.Translate(gpa, len);
    return {host, host + len};
  }

 private:
  void Put16(uint64_t gpa, uint16_t v) {
    (void)memory_.Write(gpa, {reinterpret_cast<uint8_t*>(&v), 2});
  }
  uint16_t Get16(uint64_t gpa) const {
    uint16_t v;
    std::memcpy(&v, *memory_.Translate(gpa, 2), 2);
    return v;
  }

  GuestMemory& memory_;
  uint16_t size_;
  uint64_t desc_, avail_, used_;
  uint64_t next_data_;
  uint16_t next_desc_ = 0;
  uint16_t avail_idx_ = 0;
};

}  // namespace ferry::testing
