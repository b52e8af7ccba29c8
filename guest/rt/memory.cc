#include "rt/memory.h"

#include "rt/boot.h"

namespace guest {

void MemoryMap::add_ram(uint64_t base, uint64_t size) {
  if (size == 0 || count_ == kMaxRegions) return;
  regions_[count_++] = MemoryRegion{base, size};
}

uint64_t MemoryMap::total_bytes() const {
  uint64_t total = 0;
  for (int i = 0; i < count_; ++i) total += regions_[i].size;
  return total;
}

bool MemoryMap::is_ram(uint64_t base, uint64_t size) const {
  for (int i = 0; i < count_; ++i) {
    if (base >= regions_[i].base && base + size <= regions_[i].end()) return true;
  }
  return false;
}

uint64_t MemoryMap::place(uint64_t size, uint64_t align) const {
  uint64_t best = 0;
  for (int i = 0; i < count_; ++i) {
    const MemoryRegion& r = regions_[i];
    uint64_t base = align_up(r.base < image_end() ? image_end() : r.base, align);
    if (base >= r.end() || r.end() - base < size || base + size > kMappedLimit) continue;
    if (best == 0 || base < best) best = base;
  }
  return best;
}

uint64_t image_end() {
  return reinterpret_cast<uintptr_t>(__image_end);
}

}  // namespace guest
