// VHD ("vpc" in qemu-img) images: fixed and dynamic, read and write;
// differencing (a child over a parent VHD, as Xen's blktap and Hyper-V
// chains are made), read.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "image/image.h"

namespace ferry::image {

// `options.open_backing` false leaves a differencing disk's parent closed
// (unallocated ranges then read as zeros).
Result<std::unique_ptr<ImageReader>> OpenVhd(const std::string& path, const OpenOptions& options);
// subformat "dynamic" (default) or "fixed".
Result<std::unique_ptr<ImageWriter>> CreateVhd(const std::string& path, uint64_t size,
                                               const CreateOptions& options);
// Continues an image CreateVhd began, from its writer's SaveState().
Result<std::unique_ptr<ImageWriter>> ResumeVhd(const std::string& path, uint64_t size,
                                               const CreateOptions& options,
                                               std::span<const uint8_t> state);

}  // namespace ferry::image
