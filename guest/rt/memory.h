// Guest RAM as reported by the boot loader, and where workloads may put their data.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kLargePageSize = 2ull << 20;
inline constexpr uint64_t kMappedLimit = 64ull << 30;  // boot/page_tables.S

inline constexpr uint64_t align_up(uint64_t value, uint64_t align) {
  return (value + align - 1) & ~(align - 1);
}

struct MemoryRegion {
  uint64_t base;
  uint64_t size;
  uint64_t end() const { return base + size; }
};

class MemoryMap {
 public:
  static constexpr int kMaxRegions = 64;

  // Adds a usable RAM range (overlaps and touching ranges are kept as given).
  void add_ram(uint64_t base, uint64_t size);

  int count() const { return count_; }
  const MemoryRegion& region(int i) const { return regions_[i]; }
  uint64_t total_bytes() const;

  // True when [base, base + size) lies inside one RAM region.
  bool is_ram(uint64_t base, uint64_t size) const;

  // Lowest address >= min_base, aligned to align, where size bytes of RAM (all mapped
  // by the boot page tables) are free of the guest image. Returns 0 when none is.
  uint64_t place(uint64_t size, uint64_t align) const;

 private:
  MemoryRegion regions_[kMaxRegions] = {};
  int count_ = 0;
};

// The first address after the loaded image (its .bss included).
uint64_t image_end();

}  // namespace guest
