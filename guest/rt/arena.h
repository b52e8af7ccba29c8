// Guest RAM for drivers and the workloads that use them: one block claimed from the
// memory map, handed out by a bump pointer and never freed. Rings and buffers that a
// device reads or writes come from here; guest-physical = virtual (identity map), so a
// pointer is also the address the device is given.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "rt/memory.h"

namespace guest::arena {

// Claims the largest free block of RAM above the guest image (BSP, before the workload
// runs). Exits with status 2 when there is none.
void init(const MemoryMap& memory);

// Zeroed memory aligned to align (a power of two). Exits with status 2 when the arena
// is exhausted.
void* alloc(uint64_t bytes, uint64_t align = 64);

template <typename T>
T* alloc_array(uint64_t count, uint64_t align = alignof(T) < 64 ? 64 : alignof(T)) {
  return static_cast<T*>(alloc(count * sizeof(T), align));
}

inline uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

}  // namespace guest::arena
