// Writes VMDK images: monolithicSparse (the default) and streamOptimized
// (compressed grains with markers, the variant ESXi and OVAs take).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageWriter>> CreateVmdk(const std::string& path, uint64_t size,
                                                const CreateOptions& options);
// Continues an image CreateVmdk began, from its writer's SaveState().
// streamOptimized: grains appended after that checkpoint are cut off.
Result<std::unique_ptr<ImageWriter>> ResumeVmdk(const std::string& path, uint64_t size,
                                                const CreateOptions& options,
                                                std::span<const uint8_t> state);

}  // namespace ferry::image
