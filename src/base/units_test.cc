#include "base/units.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ParseSize, AcceptsBinarySuffixes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("64K"), 64 * kKiB);
  EXPECT_EQ(*ParseSize("256M"), 256 * kMiB);
  EXPECT_EQ(*ParseSize("1G"), kGiB);
  EXPECT_EQ(*ParseSize("2GiB"), 2 * kGiB);
  EXPECT_EQ(*ParseSize("512", kMiB), 512 * kMiB);
}

TEST(ParseSize, RejectsGarbage) {
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("M").ok());
  EXPECT_FALSE(ParseSize("12Q").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseSize("17179869184G").ok());  // overflows 64 bits
}

TEST(FormatSize, PicksTheLargestUnit) {
  EXPECT_EQ(FormatSize(512), "512 B");
  EXPECT_EQ(FormatSize(256 * kMiB), "256 MiB");
  EXPECT_EQ(FormatSize(3 * kGiB / 2), "1.5 GiB");
}

}  // namespace
}  // namespace ferry
