// Thin wrappers over the x86 instructions that ring-3 code may use here: port I/O is
// allowed because the boot code gives every CPU IOPL 3.
#pragma once

#include <stdint.h>

namespace guest::x86 {

inline void outb(uint16_t port, uint8_t value) {
  asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

inline uint8_t inb(uint16_t port) {
  uint8_t value;
  asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

inline void outl(uint16_t port, uint32_t value) {
  asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

inline void pause() {
  asm volatile("pause" ::: "memory");
}

// LFENCE keeps RDTSC from being executed ahead of the loads around it (pvclock reads).
inline uint64_t rdtsc_ordered() {
  uint32_t lo, hi;
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Guest-physical memory is identity mapped, so a physical address is a pointer.
template <typename T>
inline T* phys(uint64_t paddr) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(paddr));
}

}  // namespace guest::x86
