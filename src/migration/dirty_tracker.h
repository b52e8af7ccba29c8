// Which guest pages changed since the last look: KVM's dirty log merged with
// the pages the VMM itself wrote (devices writing into guest buffers, which
// KVM does not see). Page index = RAM offset / 4096, as in page records.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "machine/guest_memory.h"

namespace ferry::migration {

class DirtyBitmap {
 public:
  explicit DirtyBitmap(uint64_t pages) : pages_(pages), words_((pages + 63) / 64, 0) {}
  uint64_t pages() const { return pages_; }
  std::vector<uint64_t>& words() { return words_; }
  const std::vector<uint64_t>& words() const { return words_; }
  void Set(uint64_t page) { words_[page / 64] |= uint64_t{1} << (page % 64); }
  bool Test(uint64_t page) const { return (words_[page / 64] >> (page % 64)) & 1; }
  uint64_t Count() const;
  void Merge(const DirtyBitmap& other);
  // Calls f(page) for every set bit, in increasing order.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t w = 0; w < words_.size(); ++w) {
      for (uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) {
        f(w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits)));
      }
    }
  }

 private:
  uint64_t pages_;
  std::vector<uint64_t> words_;
};

class DirtyTracker {
 public:
  virtual ~DirtyTracker() = default;
  // Pages written since the previous Collect (or since tracking started), and
  // re-arms tracking for them: a write after this call shows up next time.
  virtual Result<DirtyBitmap> Collect() = 0;
};

// DirtyTracker = KVM's log OR the VMM's own: every tracker calls these.
// StartVmmDirtyLog when tracking starts (before its first Collect),
// MergeVmmDirtyLog into each bitmap it returns, StopVmmDirtyLog when it ends.
void StartVmmDirtyLog(const GuestMemory& memory);
void MergeVmmDirtyLog(const GuestMemory& memory, DirtyBitmap& into);
void StopVmmDirtyLog(const GuestMemory& memory);

}  // namespace ferry::migration
