// qcow2 repair (`check -r leaks|all`): rebuilds the refcount structures from
// the references the metadata makes, writes them past the end of the file
// and only then switches the header over (one 12-byte write), so that an
// interruption leaves the old, consistent-or-not image as it was. `all`
// also sets the "copied" flags to match the new refcounts and clears the
// dirty and corrupt bits. Broken L1/L2 entries (past the end of the file,
// reserved bits, misalignment) are not repaired: the repair refuses them.
#pragma once

#include <string>

#include "base/result.h"

namespace ferry::image::qcow2 {

enum class RepairMode { kLeaks, kAll };

struct RepairResult {
  uint64_t leaks_fixed = 0;
  uint64_t corruptions_fixed = 0;
};

Result<RepairResult> Repair(const std::string& path, RepairMode mode);

}  // namespace ferry::image::qcow2
