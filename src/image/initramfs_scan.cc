#include "image/initramfs_scan.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ferry::image {
namespace {

// Feeds decompressed chunks through, keeping the tail so that a needle split
// across two chunks is still seen.
class Finder {
 public:
  explicit Finder(const std::string& needle) : needle_(needle) {}
  bool Feed(const char* data, size_t n) {
    carry_.append(data, n);
    if (carry_.find(needle_) != std::string::npos) return true;
    if (carry_.size() > needle_.size()) carry_.erase(0, carry_.size() - needle_.size());
    return false;
  }

 private:
  const std::string& needle_;
  std::string carry_;
};

bool ScanGzip(const std::string& in, size_t at, const std::string& needle, size_t max_output) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + at));
  z.avail_in = uInt(std::min<size_t>(in.size() - at, UINT32_MAX));
  std::vector<char> out(1 << 20);
  Finder finder(needle);
  bool found = false;
  size_t total = 0;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    int rc = inflate(&z, Z_NO_FLUSH);
    size_t got = out.size() - z.avail_out;
    total += got;
    if (finder.Feed(out.data(), got)) {
      found = true;
      break;
    }
    if (rc != Z_OK || total > max_output || (got == 0 && z.avail_in == 0)) break;
  }
  inflateEnd(&z);
  return found;
}

bool ScanZstd(const std::string& in, size_t at, const std::string& needle, size_t max_output) {
  ZSTD_DStream* z = ZSTD_createDStream();
  if (!z) return false;
  ZSTD_initDStream(z);
  ZSTD_inBuffer input{in.data() + at, in.size() - at, 0};
  std::vector<char> out(1 << 20);
  Finder finder(needle);
  bool found = false;
  size_t total = 0;
  while (input.pos < input.size && total <= max_output) {
    ZSTD_outBuffer output{out.data(), out.size(), 0};
    size_t rc = ZSTD_decompressStream(z, &output, &input);
    if (ZSTD_isError(rc)) break;
    total += output.pos;
    if (finder.Feed(out.data(), output.pos)) {
      found = true;
      break;
    }
    if (rc == 0 && output.pos == 0) break;
  }
  ZSTD_freeDStream(z);
  return found;
}

}  // namespace

ScanResult ScanInitramfs(const std::string& image, const std::string& needle, size_t max_output) {
  if (image.find(needle) != std::string::npos) return ScanResult::kFound;
  // The compressed archive starts after the plain cpio ones (if any); the
  // first compression magic is its start.
  size_t gz = image.find("\x1f\x8b\x08");
  size_t zs = image.find("\x28\xb5\x2f\xfd");
  if (gz == std::string::npos && zs == std::string::npos) {
    bool cpio = image.rfind("070701", 0) == 0 || image.rfind("070702", 0) == 0;
    return cpio ? ScanResult::kNotFound : ScanResult::kUnknownCompression;
  }
  bool found =
      gz < zs ? ScanGzip(image, gz, needle, max_output) : ScanZstd(image, zs, needle, max_output);
  return found ? ScanResult::kFound : ScanResult::kNotFound;
}

}  // namespace ferry::image
