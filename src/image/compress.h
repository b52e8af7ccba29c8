// The compression codecs disk image formats use for their compressed units:
// qcow2 stores raw deflate streams (window 2^12, no zlib header) or zstd
// frames; VMDK streamOptimized grains are zlib streams (RFC 1950).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"

namespace ferry::image {

enum class Codec { kDeflateRaw, kZlib, kZstd };

// Decompresses `in` into exactly out.size() bytes. `in` may carry trailing
// bytes after the stream (formats round compressed sizes up to sectors).
Status Decompress(Codec codec, std::span<const uint8_t> in, std::span<uint8_t> out);

// Compresses `in`. Returns an empty vector when the result would be longer
// than `limit` bytes, in which case the caller stores the data plainly.
Result<std::vector<uint8_t>> Compress(Codec codec, std::span<const uint8_t> in, size_t limit);

}  // namespace ferry::image
