#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ferry {
namespace {

TEST(Crc32c, KnownVectors) {
  // RFC 3720 appendix B.4 and the usual "123456789" check value.
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  uint8_t zeros[32] = {};
  EXPECT_EQ(Crc32c(zeros, sizeof zeros), 0x8A9136AAu);
}

TEST(Crc32c, ContinuesAcrossChunks) {
  const char* text = "hello, crc32c world";
  size_t n = std::strlen(text);
  EXPECT_EQ(Crc32c(text + 5, n - 5, Crc32c(text, 5)), Crc32c(text, n));
}

}  // namespace
}  // namespace ferry
