// Reading steps several image readers share.
#pragma once

#include <cstdint>
#include <functional>
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

// A differencing layer's range that the layer does not hold: the parent's
// extent (one level deeper), or zeros at depth 1 past the parent's end or
// with no parent open.
Result<Extent> MapFromParent(ImageReader* parent, Extent e);

// Reads a differencing layer through its own Map: depth-0 data from `file`,
// depth-0 zeros, and everything deeper from `parent`. `read_own` reads the
// layer's file (so that a replayed log can sit over it).
using OwnRead = std::function<Status(uint64_t host, std::span<uint8_t> out)>;
Status ReadLayered(ImageReader& reader, ImageReader* parent, const OwnRead& read_own,
                   uint64_t offset, std::span<uint8_t> out);

}  // namespace ferry::image
