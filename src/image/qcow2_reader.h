// Reads qcow2 images (versions 2 and 3) with their backing chain.
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenQcow2(const std::string& path, const OpenOptions& options);

}  // namespace ferry::image
