// Guest RAM as a sparse file: byte i of the file is byte i of RAM (RAM offset,
// not guest-physical address); pages that are zero are holes.
#pragma once

#include <cstdint>
#include <functional>

#include "base/result.h"
#include "machine/guest_memory.h"

namespace ferry::state {

struct MemoryImageStats {
  uint64_t pages_data = 0;  // written
  uint64_t pages_zero = 0;  // left as holes
};

// Calls `on_run(offset, length)` for every maximal run of non-zero pages (RAM
// offsets), counting pages in `stats`. Untouched anonymous memory is skipped
// without being faulted in.
Status ScanDataRuns(const GuestMemory& memory,
                    const std::function<Status(uint64_t offset, uint64_t length)>& on_run,
                    MemoryImageStats* stats);

// Writes `memory` to `fd` (which must be empty) and sizes the file to the RAM size.
Result<MemoryImageStats> WriteMemoryImage(int fd, const GuestMemory& memory);

// True when the 4 KiB page at `page` holds only zero bytes.
bool IsZeroPage(const uint8_t* page);

}  // namespace ferry::state
