// VHD ("vpc" in qemu-img) images: fixed and dynamic, read and write.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenVhd(const std::string& path);
// subformat "dynamic" (default) or "fixed".
Result<std::unique_ptr<ImageWriter>> CreateVhd(const std::string& path, uint64_t size,
                                               const CreateOptions& options);
// Continues an image CreateVhd began, from its writer's SaveState().
Result<std::unique_ptr<ImageWriter>> ResumeVhd(const std::string& path, uint64_t size,
                                               const CreateOptions& options,
                                               std::span<const uint8_t> state);

}  // namespace ferry::image
