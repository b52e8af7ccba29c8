// Changes a qcow2 image's virtual size in place.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace ferry::image::qcow2 {

// Growing keeps all data; shrinking drops the clusters past the new end
// (allowed only with `shrink`). When the L1 table must grow it is rewritten at
// the end of the file with fresh refcount structures, and only then does the
// header switch to them, so an interruption leaves the old image intact.
Status Resize(const std::string& path, uint64_t new_size, bool shrink);

}  // namespace ferry::image::qcow2
