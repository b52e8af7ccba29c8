// A polling virtio-blk driver in the VMM's own process, for benchmarks and
// tests without a guest: `depth` fixed slots, each a three-descriptor chain
// (header, data, status), over ferry's real VirtioBlock behind its real PCI
// transport and worker thread. Notifications take the MMIO path (an eventfd
// write per batch) where a guest's take an ioeventfd exit; completions are
// polled, as the guest kit polls. Test-only; never linked into ferry itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>

#include "devices/virtio/block.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_spec.h"
#include "machine/guest_memory.h"

namespace ferry::testing {

struct BlkCase {
  const char* name;
  uint32_t type;  // virtio_blk::kTypeIn / kTypeOut
  uint32_t request_bytes;
  uint16_t depth;
  bool sequential;
};

// Which request-sized block of the span the i-th request of a case goes to:
// in order, or spread by a fixed xorshift sequence (the same in every run).
class RequestPlacement {
 public:
  RequestPlacement(const BlkCase& c, uint64_t span) : sequential_(c.sequential), span_(span) {}
  uint64_t Next() {
    uint64_t index = count_++ % span_;
    if (sequential_) return index;
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_ % span_;
  }

 private:
  bool sequential_;
  uint64_t span_;
  uint64_t count_ = 0;
  uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

struct BlkRunHooks {
  // Called before each request is queued, with its data buffer (a write's
  // contents go there); false ends the run early. May block (pacing, pause).
  std::function<bool(uint8_t* data, uint32_t length)> before_submit;
  // Set: the run ends at once, even with requests the device has not answered
  // (a paused device answers nothing).
  const std::atomic<bool>* abandon = nullptr;
};

class BlkRingDriver {
 public:
  using T = VirtioPciTransport;
  static constexpr uint16_t kQueueSize = 128;
  static constexpr uint64_t kDescAddr = 0x100000;
  static constexpr uint64_t kAvailAddr = kDescAddr + 16 * kQueueSize;
  static constexpr uint64_t kUsedAddr = 0x104000;
  static constexpr uint64_t kHeaderArea = 0x200000;  // 64 bytes per slot: header, then status
  static constexpr uint64_t kDataArea = 0x1000000;   // one request-sized buffer per slot
  // What `memory` must hold for `depth` slots of `request_bytes` (in 2 MiB,
  // as guest memory is sized).
  static uint64_t MemoryBytes(uint16_t depth, uint32_t request_bytes) {
    constexpr uint64_t kAlign = 2 << 20;
    return (kDataArea + uint64_t{depth} * request_bytes + kAlign - 1) & ~(kAlign - 1);
  }

  // Requests land within the first `span_bytes` of the disk.
  BlkRingDriver(GuestMemory& memory, T& transport, uint64_t span_bytes)
      : memory_(memory), transport_(transport), span_bytes_(span_bytes) {}

  void Initialize() {
    // A new device sees a new ring: nothing of an earlier case's indices.
    std::memset(*memory_.Translate(kDescAddr, kUsedAddr + 0x1000 - kDescAddr), 0,
                kUsedAddr + 0x1000 - kDescAddr);
    Write8(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver);
    Write32(0x08, 0);
    Write32(0x0c, 0);
    Write32(0x08, 1);
    Write32(0x0c, 1);  // VERSION_1 (bit 32) only: every completion is polled
    Write8(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    Write16(0x16, 0);
    Write16(0x18, kQueueSize);
    Write64(0x20, kDescAddr);
    Write64(0x28, kAvailAddr);
    Write64(0x30, kUsedAddr);
    Write16(0x1c, 1);
    Write8(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                     virtio::kStatusDriverOk);
    Put16(kAvailAddr, kAvailNoInterrupt);
    transport_.Resume();
  }

  // Runs one case over `total` bytes; returns bytes per second of what completed.
  Result<double> Run(const BlkCase& c, uint64_t total, const BlkRunHooks& hooks = {}) {
    uint64_t requests = total / c.request_bytes;
    uint64_t submitted = 0;
    completed_ = 0;
    RequestPlacement placement(c, span_bytes_ / c.request_bytes);
    bool stopping = false;
    auto submit = [&](uint16_t slot) {
      uint64_t data = kDataArea + uint64_t{slot} * c.request_bytes;
      if (hooks.before_submit &&
          !hooks.before_submit(*memory_.Translate(data, c.request_bytes), c.request_bytes)) {
        stopping = true;
        return;
      }
      BlkHeader header{c.type, 0, placement.Next() * c.request_bytes / 512};
      Fill(kHeaderArea + 64u * slot, &header, sizeof header);
      uint16_t desc = static_cast<uint16_t>(slot * 3);
      uint16_t data_flags = c.type == virtio_blk::kTypeIn ? virtio::kDescWrite : 0;
      SetDesc(desc, kHeaderArea + 64u * slot, sizeof header, virtio::kDescNext, desc + 1);
      SetDesc(desc + 1, data, c.request_bytes, data_flags | virtio::kDescNext, desc + 2);
      SetDesc(desc + 2, kHeaderArea + 64u * slot + 32, 1, virtio::kDescWrite, 0);
      Put16(kAvailAddr + 4 + 2u * (avail_idx_ % kQueueSize), desc);
      ++avail_idx_;
      ++submitted;
    };
    auto start = std::chrono::steady_clock::now();
    for (uint16_t slot = 0; slot < c.depth && submitted < requests && !stopping; ++slot) {
      submit(slot);
    }
    Publish();
    while (completed_ < submitted) {
      if (hooks.abandon && hooks.abandon->load()) break;
      uint16_t used_idx = Get16(kUsedAddr + 2);
      bool resubmitted = false;
      while (last_used_ != used_idx) {
        uint32_t head = Get32(kUsedAddr + 4 + 8u * (last_used_ % kQueueSize));
        ++last_used_;
        ++completed_;
        uint16_t slot = static_cast<uint16_t>(head / 3);
        if (Get8(kHeaderArea + 64u * slot + 32) != virtio_blk::kStatusOk) {
          return Error(ErrorCode::kInternal, std::string(c.name) + ": the device failed a request");
        }
        if (submitted < requests && !stopping) {
          submit(slot);
          resubmitted = true;
        }
      }
      if (resubmitted) Publish();
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return static_cast<double>(completed_ * c.request_bytes) / seconds;
  }

  // Requests the device completed in the last Run.
  uint64_t completed() const { return completed_; }

 private:
  static constexpr uint16_t kAvailNoInterrupt = 1;
  struct BlkHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
  };

  void Publish() {
    Put16(kAvailAddr + 2, avail_idx_);
    uint16_t queue = 0;
    transport_.bar().Write(T::kNotifyOffset, {reinterpret_cast<uint8_t*>(&queue), 2});
  }
  void SetDesc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t d[16];
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
    Fill(kDescAddr + 16u * index, d, 16);
  }
  void Fill(uint64_t gpa, const void* data, size_t len) {
    std::memcpy(*memory_.Translate(gpa, len), data, len);
  }
  void Put16(uint64_t gpa, uint16_t v) {
    __atomic_store_n(reinterpret_cast<uint16_t*>(*memory_.Translate(gpa, 2)), v, __ATOMIC_RELEASE);
  }
  uint16_t Get16(uint64_t gpa) {
    return __atomic_load_n(reinterpret_cast<uint16_t*>(*memory_.Translate(gpa, 2)),
                           __ATOMIC_ACQUIRE);
  }
  uint32_t Get32(uint64_t gpa) {
    uint32_t v;
    std::memcpy(&v, *memory_.Translate(gpa, 4), 4);
    return v;
  }
  uint8_t Get8(uint64_t gpa) {
    return *reinterpret_cast<volatile uint8_t*>(*memory_.Translate(gpa, 1));
  }
  template <typename V>
  void BarWrite(uint64_t offset, V value) {
    transport_.bar().Write(offset, {reinterpret_cast<const uint8_t*>(&value), sizeof value});
  }
  void Write8(uint64_t offset, uint8_t v) { BarWrite(offset, v); }
  void Write16(uint64_t offset, uint16_t v) { BarWrite(offset, v); }
  void Write32(uint64_t offset, uint32_t v) { BarWrite(offset, v); }
  void Write64(uint64_t offset, uint64_t v) { BarWrite(offset, v); }

  GuestMemory& memory_;
  T& transport_;
  uint64_t span_bytes_;
  uint16_t avail_idx_ = 0;
  uint16_t last_used_ = 0;
  uint64_t completed_ = 0;
};

}  // namespace ferry::testing
