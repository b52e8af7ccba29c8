// VHDX images: read only (fixed, dynamic, and differencing over a parent
// VHDX, as Hyper-V checkpoints are kept).
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

// `options.open_backing` false leaves a differencing disk's parent closed
// (what the parent would supply then reads as zeros).
Result<std::unique_ptr<ImageReader>> OpenVhdx(const std::string& path, const OpenOptions& options);

}  // namespace ferry::image
