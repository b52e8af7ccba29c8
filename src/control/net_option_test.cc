#include "control/net_option.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

std::string ErrorOf(const std::string& value) {
  Result<NetSpec> spec = ParseNetOption(value);
  return spec.ok() ? "" : spec.error().message();
}

TEST(NetOption, TapAndMac) {
  Result<NetSpec> plain = ParseNetOption("tap=tap0");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->tap, "tap0");
  EXPECT_FALSE(plain->mac.has_value());
  Result<NetSpec> full = ParseNetOption("mac=52:54:00:12:34:56,tap=vm1");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->tap, "vm1");
  ASSERT_TRUE(full->mac.has_value());
  EXPECT_EQ(FormatMac(*full->mac), "52:54:00:12:34:56");
}

TEST(NetOption, ClearErrors) {
  EXPECT_EQ(ErrorOf("tap=t,speed=1"),
            "--net 'tap=t,speed=1': unknown setting 'speed=1' (tap=NAME[,mac=MAC])");
  EXPECT_NE(ErrorOf("tap=t,mac=1:2").find("is not a MAC address"), std::string::npos);
  EXPECT_NE(ErrorOf("tap=t,mac=01:00:5e:00:00:01").find("multicast"), std::string::npos);
  EXPECT_EQ(ErrorOf("mac=52:54:00:12:34:56"), "--net 'mac=52:54:00:12:34:56': give tap=NAME");
  EXPECT_NE(ErrorOf("tap="), "");
  EXPECT_NE(ErrorOf("tap0"), "");
  EXPECT_NE(ErrorOf("tap=a,tap=b"), "");
  Result<std::vector<NetSpec>> twice = ParseNetOptions({"tap=a", "tap=a"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message().find("given twice"), std::string::npos);
}

}  // namespace
}  // namespace ferry
