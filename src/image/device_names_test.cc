#include "image/device_names.h"

#include <gtest/gtest.h>

namespace ferry::image {
namespace {

TEST(DeviceNames, XenIdeScsiBecomeVirtio) {
  Rewrite r =
      RewriteDeviceNames("/dev/xvda1 / ext4\n/dev/sda2 /srv\n/dev/hdc none\nroot=/dev/sdaa12 ro\n");
  EXPECT_EQ(r.text, "/dev/vda1 / ext4\n/dev/vda2 /srv\n/dev/vdc none\nroot=/dev/vdaa12 ro\n");
  EXPECT_EQ(r.changes, 4);
}

TEST(DeviceNames, LeavesOtherNamesAlone) {
  const std::string text =
      "/dev/sdaX /dev/sda1b /dev/mapper/vg-root /dev/vda1 /dev/sd /dev/ xvda1 /dev/hd0 /dev/";
  Rewrite r = RewriteDeviceNames(text);
  EXPECT_EQ(r.text, text);
  EXPECT_EQ(r.changes, 0);
}

TEST(DeviceNames, UuidOnlyInTheFirstFstabField) {
  UuidFor uuid = [](int disk, int part) -> std::optional<std::string> {
    if (disk == 0 && part == 1) return "UUID=abcd";
    return std::nullopt;
  };
  Rewrite r = RewriteDeviceNames("  /dev/sda1 / ext4\n/dev/sdb1 /x\n# root=/dev/sda1\n", uuid);
  EXPECT_EQ(r.text, "  UUID=abcd / ext4\n/dev/vdb1 /x\n# root=/dev/vda1\n");
}

}  // namespace
}  // namespace ferry::image
