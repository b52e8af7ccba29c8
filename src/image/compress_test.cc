#include "image/compress.h"

#include <gtest/gtest.h>

namespace ferry::image {
namespace {

std::vector<uint8_t> Text(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t("ferry compresses text "[i % 22]);
  return v;
}

TEST(Compress, RoundTripsEveryCodecWithTrailingBytes) {
  for (Codec codec : {Codec::kDeflateRaw, Codec::kZlib, Codec::kZstd}) {
    std::vector<uint8_t> in = Text(65536);
    auto packed = Compress(codec, in, in.size());
    ASSERT_TRUE(packed.ok());
    ASSERT_FALSE(packed->empty());
    ASSERT_LT(packed->size(), in.size());
    packed->resize(packed->size() + 300, 0xee);  // sector padding
    std::vector<uint8_t> out(in.size());
    ASSERT_TRUE(Decompress(codec, *packed, out).ok());
    EXPECT_EQ(out, in);
  }
}

TEST(Compress, ReportsIncompressibleAsEmpty) {
  std::vector<uint8_t> in(4096);
  uint32_t x = 1;
  for (auto& b : in) b = uint8_t((x = x * 1103515245 + 12345) >> 24);
  for (Codec codec : {Codec::kDeflateRaw, Codec::kZstd}) {
    auto packed = Compress(codec, in, in.size() - 512);
    ASSERT_TRUE(packed.ok());
    EXPECT_TRUE(packed->empty());
  }
}

TEST(Compress, RefusesGarbageAndShortStreams) {
  std::vector<uint8_t> garbage(100, 0xff), out(4096);
  EXPECT_FALSE(Decompress(Codec::kDeflateRaw, garbage, out).ok());
  EXPECT_FALSE(Decompress(Codec::kZstd, garbage, out).ok());
  auto packed = Compress(Codec::kZstd, Text(1024), 4096);
  ASSERT_TRUE(packed.ok());
  EXPECT_FALSE(Decompress(Codec::kZstd, *packed, out).ok());  // yields 1024, not 4096
}

}  // namespace
}  // namespace ferry::image
