// Which page a dirtier CPU writes next: seq, random or hotcold.
#pragma once

#include <stdint.h>

namespace guest::dirtier {

enum class Pattern { kSeq, kRandom, kHotCold };

class PagePicker {
 public:
  // pages: pages in this CPU's slice; hot_pages: size of the hot set for kHotCold.
  PagePicker(Pattern pattern, uint64_t pages, uint64_t hot_pages, uint64_t seed)
      : pattern_(pattern), pages_(pages), hot_pages_(hot_pages), state_(seed | 1) {}

  uint64_t next() {
    switch (pattern_) {
      case Pattern::kSeq:
        if (cursor_ == pages_) cursor_ = 0;
        return cursor_++;
      case Pattern::kRandom:
        return random() % pages_;
      case Pattern::kHotCold:
        // 90% of the writes go to the hot set at the start of the slice.
        if (hot_pages_ == pages_ || random() % 10 != 0) return random() % hot_pages_;
        return hot_pages_ + random() % (pages_ - hot_pages_);
    }
    return 0;
  }

 private:
  // xorshift64*: cheap, and good enough to spread writes over the slice.
  uint64_t random() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dull;
  }

  Pattern pattern_;
  uint64_t pages_;
  uint64_t hot_pages_;
  uint64_t state_;
  uint64_t cursor_ = 0;
};

}  // namespace guest::dirtier
