// The PVH start-of-day structure (struct hvm_start_info), read once in ring 3.
#pragma once

#include <stdint.h>

#include "rt/memory.h"

namespace guest {

struct BootInfo {
  static constexpr int kMaxCmdline = 1024;

  uint32_t version = 0;
  char cmdline[kMaxCmdline] = {};  // copied: the loader's copy lives in memory we reuse
  uint64_t rsdp = 0;               // 0: not given, scan the BIOS area
  MemoryMap memory;
};

// Parses the structure the loader passed in EBX; exits with status 3 when it is missing
// or malformed, and with status 2 when it reports no RAM.
void read_boot_info(BootInfo& info);

}  // namespace guest
