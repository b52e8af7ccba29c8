// VHDX images: read only (fixed and dynamic).
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenVhdx(const std::string& path);

}  // namespace ferry::image
