// Pages of guest RAM that the VMM itself wrote (virtio devices filling guest
// buffers, the used ring): KVM's dirty log only sees the guest's own writes.
// One atomic bit per 4 KiB page, indexed by RAM offset / 4096 like KVM's log
// and page records. Marking costs one relaxed load while migration is not
// tracking; while it is, writers set bits and the tracker takes them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace ferry {

class VmmDirtyLog {
 public:
  explicit VmmDirtyLog(uint64_t ram_bytes);

  // Tracking on: bits set from now on are kept until Take. Off: marks are
  // dropped and the bitmap is cleared.
  void Start();
  void Stop();
  bool active() const { return active_.load(std::memory_order_relaxed); }

  // Records that RAM offsets [offset, offset+len) were written. Callers mark
  // after the bytes are in place, so a page taken by the tracker before the
  // mark is seen again in the next round.
  void Mark(uint64_t offset, uint64_t len);
  // ORs the marked pages into `words` (one bit per page, `count` words) and
  // clears them, atomically per word.
  void TakeInto(uint64_t* words, uint64_t count);

  uint64_t pages() const { return pages_; }

 private:
  uint64_t pages_;
  uint64_t word_count_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  std::atomic<bool> active_{false};
};

}  // namespace ferry
