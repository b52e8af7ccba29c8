#include "rt/arena.h"

#include "rt/exit.h"

namespace guest::arena {
namespace {

constinit uint64_t g_next = 0;
constinit uint64_t g_end = 0;

}  // namespace

void init(const MemoryMap& memory) {
  for (int i = 0; i < memory.count(); ++i) {
    const MemoryRegion& r = memory.region(i);
    uint64_t base = align_up(r.base < image_end() ? image_end() : r.base, kLargePageSize);
    uint64_t end = r.end() < kMappedLimit ? r.end() : kMappedLimit;
    if (base < end && end - base > g_end - g_next) {
      g_next = base;
      g_end = end;
    }
  }
  if (g_end == 0) fatal(kExitBadConfig, "no free RAM above the guest image");
}

void* alloc(uint64_t bytes, uint64_t align) {
  uint64_t base = align_up(g_next, align);
  if (g_end == 0 || base > g_end || g_end - base < bytes) {
    fatal(kExitBadConfig, "out of guest RAM for buffers (%lu bytes wanted)", bytes);
  }
  g_next = base + bytes;
  auto* p = reinterpret_cast<void*>(static_cast<uintptr_t>(base));
  __builtin_memset(p, 0, bytes);
  return p;
}

}  // namespace guest::arena
