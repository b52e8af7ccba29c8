// VHDX images: read (fixed, dynamic, and differencing over a parent VHDX,
// as Hyper-V checkpoints are kept) and write (dynamic).
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

// `options.open_backing` false leaves a differencing disk's parent closed
// (what the parent would supply then reads as zeros).
Result<std::unique_ptr<ImageReader>> OpenVhdx(const std::string& path, const OpenOptions& options);
// A dynamic VHDX (subformat dynamic; -o cluster_size= sets the block size,
// 32 MiB by default as Hyper-V does). Not resumable.
Result<std::unique_ptr<ImageWriter>> CreateVhdx(const std::string& path, uint64_t size,
                                                const CreateOptions& options);

}  // namespace ferry::image
