// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by VHDX,
// iSCSI and ext4. Table-driven; fast enough for metadata, not for bulk data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry {

// Continues a CRC: pass the previous return value as `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace ferry
