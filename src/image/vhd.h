// VHD ("vpc" in qemu-img) images: fixed and dynamic, read and write.
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenVhd(const std::string& path);
// subformat "dynamic" (default) or "fixed".
Result<std::unique_ptr<ImageWriter>> CreateVhd(const std::string& path, uint64_t size,
                                               const CreateOptions& options);

}  // namespace ferry::image
