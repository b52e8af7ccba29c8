// Reading steps several image readers share.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"
#include "image/file.h"
#include "image/image.h"

namespace ferry::image {

// An unallocated range: the backing image's bytes where it reaches, zeros
// past its end or when there is no backing image.
Status ReadUnallocated(ImageReader* backing, uint64_t offset, std::span<uint8_t> out);

// Reads through `reader`'s own Map: data extents from `file`, zeros for holes.
// For formats whose data extents map straight to host offsets (VHD, VHDX).
Status ReadByExtents(ImageReader& reader, const ImageFile& file, uint64_t offset,
                     std::span<uint8_t> out, const char* what);

}  // namespace ferry::image
