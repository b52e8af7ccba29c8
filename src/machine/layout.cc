#include "machine/layout.h"

#include <algorithm>

namespace ferry {

std::vector<E820Entry> BuildE820(uint64_t ram_bytes) {
  using namespace layout;
  std::vector<E820Entry> map;
  map.push_back({0, kEbdaStart, E820Type::kRam});
  map.push_back({kEbdaStart, kHighMemory - kEbdaStart, E820Type::kReserved});
  uint64_t low_end = std::min(ram_bytes, kMmioHoleStart);
  if (low_end > kHighMemory) map.push_back({kHighMemory, low_end - kHighMemory, E820Type::kRam});
  if (ram_bytes > kMmioHoleStart) {
    map.push_back({kMmioHoleEnd, ram_bytes - kMmioHoleStart, E820Type::kRam});
  }
  return map;
}

}  // namespace ferry
