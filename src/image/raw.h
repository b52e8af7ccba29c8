// Raw images: the file's bytes are the disk's bytes. Holes are found with
// SEEK_DATA/SEEK_HOLE so that they are never read.
#pragma once

#include <memory>
#include <string>

#include "image/file.h"
#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenRaw(const std::string& path);
Result<std::unique_ptr<ImageWriter>> CreateRaw(const std::string& path, uint64_t size,
                                               const CreateOptions& options);
// Continues a raw image CreateRaw began (the file is the whole state).
Result<std::unique_ptr<ImageWriter>> ResumeRaw(const std::string& path, uint64_t size,
                                               const CreateOptions& options);
// Writes onto an existing file or block device of at least `size` bytes
// (V2P, convert -n); its old contents are not assumed to be zero.
Result<std::unique_ptr<ImageWriter>> OpenRawTarget(const std::string& path, uint64_t size,
                                                   bool target_is_zero);

}  // namespace ferry::image
