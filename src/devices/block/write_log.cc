#include "devices/block/write_log.h"

namespace ferry {
namespace {

void SetRange(std::atomic<uint64_t>* words, uint64_t first, uint64_t last) {
  for (uint64_t chunk = first; chunk <= last;) {
    uint64_t word = chunk / 64;
    uint64_t bit = chunk % 64;
    uint64_t span = std::min<uint64_t>(64 - bit, last - chunk + 1);
    uint64_t mask = span == 64 ? ~uint64_t{0} : ((uint64_t{1} << span) - 1) << bit;
    // Release: whoever collects this bit also sees the write that set it.
    words[word].fetch_or(mask, std::memory_order_release);
    chunk += span;
  }
}

std::unique_ptr<std::atomic<uint64_t>[]> ZeroedWords(size_t count) {
  auto words = std::make_unique<std::atomic<uint64_t>[]>(count);
  for (size_t i = 0; i < count; ++i) words[i].store(0, std::memory_order_relaxed);
  return words;
}

}  // namespace

BlockWriteLog::BlockWriteLog(uint64_t disk_bytes, uint32_t chunk_bytes)
    : disk_bytes_(disk_bytes),
      chunk_bytes_(chunk_bytes),
      chunks_((disk_bytes + chunk_bytes - 1) / chunk_bytes),
      words_((chunks_ + 63) / 64),
      pending_(ZeroedWords(words_)),
      since_start_(ZeroedWords(words_)) {}

void BlockWriteLog::Record(uint64_t offset, uint64_t length) {
  if (length == 0 || offset >= disk_bytes_) return;
  uint64_t end = std::min(offset + length, disk_bytes_);
  uint64_t first = offset / chunk_bytes_;
  uint64_t last = (end - 1) / chunk_bytes_;
  SetRange(pending_.get(), first, last);
  SetRange(since_start_.get(), first, last);
}

std::vector<uint64_t> BlockWriteLog::Collect() {
  std::vector<uint64_t> out(words_);
  for (size_t i = 0; i < words_; ++i) out[i] = pending_[i].exchange(0, std::memory_order_acq_rel);
  return out;
}

uint64_t BlockWriteLog::PendingCount() const {
  uint64_t count = 0;
  for (size_t i = 0; i < words_; ++i) {
    count +=
        static_cast<uint64_t>(__builtin_popcountll(pending_[i].load(std::memory_order_relaxed)));
  }
  return count;
}

std::vector<uint64_t> BlockWriteLog::WrittenSinceStart() const {
  std::vector<uint64_t> out(words_);
  for (size_t i = 0; i < words_; ++i) out[i] = since_start_[i].load(std::memory_order_acquire);
  return out;
}

}  // namespace ferry
