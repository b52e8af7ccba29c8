#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Crc32c(Bytes("")), 0u);
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xe3069283u);  // RFC 3720 check value
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(Bytes(zeros)), 0x8a9136aau);  // RFC 3720 B.4
}

TEST(Crc32c, Continues) {
  std::string a = "hello, ", b = "world of sections";
  EXPECT_EQ(Crc32c(Bytes(b), Crc32c(Bytes(a))), Crc32c(Bytes(a + b)));
}

}  // namespace
}  // namespace ferry
