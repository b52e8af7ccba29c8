// A snapshot on disk: DIR/state (header and sections, docs/state-format.md)
// and DIR/memory (the sparse RAM image). Both are written under temporary
// names and renamed at the end, so a failed snapshot never looks complete.
#pragma once

#include <string>

#include "base/fd.h"
#include "base/result.h"
#include "state/machine_state.h"
#include "state/memory_image.h"

namespace ferry::state {

inline constexpr const char* kStateFile = "state";
inline constexpr const char* kMemoryFile = "memory";

Result<MemoryImageStats> SaveSnapshot(const std::string& dir, const MachineState& machine,
                                      const GuestMemory& memory);

struct LoadedSnapshot {
  MachineState machine;
  Fd memory;  // the RAM image, checked to be exactly the machine's RAM size
};

Result<LoadedSnapshot> LoadSnapshot(const std::string& dir);

}  // namespace ferry::state
