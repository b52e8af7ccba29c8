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

TEST(DeviceNames, VirtioBecomesScsiForExport) {
  Rewrite r = RewriteDeviceNames(
      "/dev/vda1 / ext4\n/dev/vdb /data\nUUID=1234 /srv\n/dev/mapper/vg-lv /opt\n"
      "linux /vmlinuz root=/dev/vda1 resume=/dev/vdaa12\n",
      nullptr, DiskNaming::kScsi);
  EXPECT_EQ(r.text,
            "/dev/sda1 / ext4\n/dev/sdb /data\nUUID=1234 /srv\n/dev/mapper/vg-lv /opt\n"
            "linux /vmlinuz root=/dev/sda1 resume=/dev/sdaa12\n");
  EXPECT_EQ(r.changes, 4);
}

TEST(DeviceNames, ScsiNamingKeepsScsiNamesAndRenamesXenAndIde) {
  Rewrite r = RewriteDeviceNames("/dev/sda1 /dev/xvdb2 /dev/hdc /dev/vdX /dev/vda1b /dev/vd\n",
                                 nullptr, DiskNaming::kScsi);
  EXPECT_EQ(r.text, "/dev/sda1 /dev/sdb2 /dev/sdc /dev/vdX /dev/vda1b /dev/vd\n");
  EXPECT_EQ(r.changes, 2);
}

TEST(DeviceNames, RoundTripVirtioScsiVirtio) {
  const std::string fstab = "/dev/vda1 / ext4 defaults 0 1\n/dev/vdb2 none swap sw 0 0\n";
  Rewrite out = RewriteDeviceNames(fstab, nullptr, DiskNaming::kScsi);
  Rewrite back = RewriteDeviceNames(out.text);
  EXPECT_EQ(out.text, "/dev/sda1 / ext4 defaults 0 1\n/dev/sdb2 none swap sw 0 0\n");
  EXPECT_EQ(back.text, fstab);
}

TEST(DeviceNames, XenNamingForExportToXenAndBack) {
  const std::string fstab = "/dev/vda1 / ext4 defaults 0 1\n/dev/sdb2 none swap sw 0 0\n";
  Rewrite out = RewriteDeviceNames(fstab, nullptr, DiskNaming::kXen);
  EXPECT_EQ(out.text, "/dev/xvda1 / ext4 defaults 0 1\n/dev/xvdb2 none swap sw 0 0\n");
  EXPECT_EQ(out.changes, 2);
  EXPECT_EQ(RewriteDeviceNames(out.text, nullptr, DiskNaming::kXen).changes, 0);  // already Xen
  EXPECT_EQ(RewriteDeviceNames(out.text).text,
            "/dev/vda1 / ext4 defaults 0 1\n/dev/vdb2 none swap sw 0 0\n");
}

}  // namespace
}  // namespace ferry::image
