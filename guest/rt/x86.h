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

inline void outw(uint16_t port, uint16_t value) {
  asm volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

inline uint16_t inw(uint16_t port) {
  uint16_t value;
  asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

inline void outl(uint16_t port, uint32_t value) {
  asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

inline uint32_t inl(uint16_t port) {
  uint32_t value;
  asm volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

inline void pause() {
  asm volatile("pause" ::: "memory");
}

// Keeps the compiler from moving memory accesses across it. On x86 (TSO) the CPU keeps
// loads in order with loads and stores with stores, so this is all the ordering that
// "publish data, then publish the index" or "see the index, then read the data" needs.
inline void compiler_barrier() {
  asm volatile("" ::: "memory");
}

// A full fence: the one reordering x86 does is a later load passing an earlier store,
// which matters when the guest stores an index and then loads what the device made of
// it (virtqueue notification suppression).
inline void mfence() {
  asm volatile("mfence" ::: "memory");
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
