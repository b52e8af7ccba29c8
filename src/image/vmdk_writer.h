// Writes VMDK images: monolithicSparse (the default) and streamOptimized
// (compressed grains with markers, the variant ESXi and OVAs take).
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageWriter>> CreateVmdk(const std::string& path, uint64_t size,
                                                const CreateOptions& options);

}  // namespace ferry::image
