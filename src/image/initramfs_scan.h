// Looks for a driver's name inside an initramfs image (cpio, possibly an
// uncompressed early-microcode cpio followed by a gzip or zstd compressed
// one), streaming the decompression so that nothing large is held.
#pragma once

#include <string>

namespace ferry::image {

enum class ScanResult { kFound, kNotFound, kUnknownCompression };

// Searches `image` (the whole initramfs file) for `needle`; output past
// `max_output` bytes of decompressed data is not searched.
ScanResult ScanInitramfs(const std::string& image, const std::string& needle,
                         size_t max_output = size_t(1) << 30);

}  // namespace ferry::image
