#include "migration/dirty_tracker.h"

namespace ferry::migration {

uint64_t DirtyBitmap::Count() const {
  uint64_t n = 0;
  for (uint64_t w : words_) n += static_cast<uint64_t>(__builtin_popcountll(w));
  return n;
}

void DirtyBitmap::Merge(const DirtyBitmap& other) {
  for (size_t i = 0; i < words_.size() && i < other.words_.size(); ++i)
    words_[i] |= other.words_[i];
}

void StartVmmDirtyLog(const GuestMemory& memory) {
  memory.vmm_dirty_log().Start();
}

void MergeVmmDirtyLog(const GuestMemory& memory, DirtyBitmap& into) {
  memory.vmm_dirty_log().TakeInto(into.words().data(), into.words().size());
}

void StopVmmDirtyLog(const GuestMemory& memory) {
  memory.vmm_dirty_log().Stop();
}

}  // namespace ferry::migration
