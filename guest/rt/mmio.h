// Device registers through the identity map. Volatile accesses of the register's own
// width, one plain MOV each, which is what the host's MMIO emulation decodes (on PVM
// ring 3 touches them directly: the map is user accessible).
#pragma once

#include <stdint.h>

namespace guest::mmio {

template <typename T>
inline T read(uint64_t address) {
  return *reinterpret_cast<volatile T*>(static_cast<uintptr_t>(address));
}

template <typename T>
inline void write(uint64_t address, T value) {
  *reinterpret_cast<volatile T*>(static_cast<uintptr_t>(address)) = value;
}

inline uint8_t read8(uint64_t a) {
  return read<uint8_t>(a);
}
inline uint16_t read16(uint64_t a) {
  return read<uint16_t>(a);
}
inline uint32_t read32(uint64_t a) {
  return read<uint32_t>(a);
}
inline void write8(uint64_t a, uint8_t v) {
  write<uint8_t>(a, v);
}
inline void write16(uint64_t a, uint16_t v) {
  write<uint16_t>(a, v);
}
inline void write32(uint64_t a, uint32_t v) {
  write<uint32_t>(a, v);
}

}  // namespace guest::mmio
