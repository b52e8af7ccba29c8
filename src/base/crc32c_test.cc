#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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

// One bit at a time, straight from the definition.
uint32_t BitwiseCrc32c(const uint8_t* p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

// The fast path runs three streams at once over strides of 8192 and 256
// bytes: every length around those boundaries, at every alignment, and
// continued from a non-zero CRC, must give the bitwise answer.
TEST(Crc32c, MatchesTheDefinitionAtEveryLengthAndAlignment) {
  std::vector<uint8_t> data(3 * 8192 * 2 + 3 * 256 * 2 + 64);
  std::mt19937 random(5);
  for (uint8_t& b : data) b = static_cast<uint8_t>(random());
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 800; ++n) lengths.push_back(n);
  for (size_t around : {1536ul, 4096ul, 3 * 8192ul, 3 * 8192ul + 768, 2 * 3 * 8192ul + 1536}) {
    for (size_t n = around - 9; n <= around + 9; ++n) lengths.push_back(n);
  }
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n : lengths) {
      ASSERT_LE(offset + n, data.size());
      std::span<const uint8_t> piece(data.data() + offset, n);
      ASSERT_EQ(Crc32c(piece), BitwiseCrc32c(piece.data(), n, 0)) << "length " << n;
      ASSERT_EQ(Crc32c(piece, 0xdeadbeef), BitwiseCrc32c(piece.data(), n, 0xdeadbeef))
          << "length " << n << ", continued";
    }
  }
}

}  // namespace
}  // namespace ferry
