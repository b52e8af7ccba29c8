// Reads VMDK images: monolithicSparse, streamOptimized, monolithicFlat,
// twoGbMaxExtentSparse/Flat (descriptor + extent files), with a parent
// (parentFileNameHint) as the backing image.
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenVmdk(const std::string& path, const OpenOptions& options);

}  // namespace ferry::image
