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

}  // namespace ferry::migration
