#include "control/disk_option.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(DiskOption, PathAndSettings) {
  Result<DiskSpec> plain = ParseDiskOption("/tmp/a.img");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->path, "/tmp/a.img");
  EXPECT_FALSE(plain->read_only);
  Result<DiskSpec> full = ParseDiskOption("b.img,readonly,serial=disk-1");
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(full->read_only);
  EXPECT_EQ(full->serial, "disk-1");
  EXPECT_FALSE(ParseDiskOption(",readonly").ok());
  EXPECT_FALSE(ParseDiskOption("a.img,rw").ok());
  EXPECT_FALSE(ParseDiskOption("a.img,serial=123456789012345678901").ok());
  EXPECT_FALSE(ParseDiskOption("a.img,serial=").ok());
}

}  // namespace
}  // namespace ferry
