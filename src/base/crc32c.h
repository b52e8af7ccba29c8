// CRC32C (Castagnoli), the checksum of every state section. Uses the SSE4.2
// crc32 instruction, three streams at a time, when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ferry {

// Continues a CRC: Crc32c(b, Crc32c(a)) == Crc32c(a ++ b). Start with 0.
uint32_t Crc32c(std::span<const uint8_t> data, uint32_t crc = 0);

}  // namespace ferry
