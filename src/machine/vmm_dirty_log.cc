#include "machine/vmm_dirty_log.h"

#include <algorithm>

namespace ferry {

namespace {
constexpr uint64_t kPage = 4096;
}

VmmDirtyLog::VmmDirtyLog(uint64_t ram_bytes)
    : pages_((ram_bytes + kPage - 1) / kPage),
      word_count_((pages_ + 63) / 64),
      words_(new std::atomic<uint64_t>[word_count_]) {
  for (uint64_t i = 0; i < word_count_; ++i) words_[i].store(0, std::memory_order_relaxed);
}

void VmmDirtyLog::Start() {
  active_.store(true, std::memory_order_seq_cst);
}

void VmmDirtyLog::Stop() {
  active_.store(false, std::memory_order_seq_cst);
  for (uint64_t i = 0; i < word_count_; ++i) words_[i].store(0, std::memory_order_relaxed);
}

void VmmDirtyLog::Mark(uint64_t offset, uint64_t len) {
  if (len == 0 || !active_.load(std::memory_order_acquire)) return;
  uint64_t first = offset / kPage;
  uint64_t last = std::min((offset + len - 1) / kPage, pages_ - 1);
  for (uint64_t page = first; page <= last; ++page) {
    words_[page / 64].fetch_or(uint64_t{1} << (page % 64), std::memory_order_release);
  }
}

void VmmDirtyLog::TakeInto(uint64_t* words, uint64_t count) {
  uint64_t n = std::min(count, word_count_);
  for (uint64_t i = 0; i < n; ++i) {
    if (words_[i].load(std::memory_order_relaxed) != 0) {
      words[i] |= words_[i].exchange(0, std::memory_order_acq_rel);
    }
  }
}

}  // namespace ferry
