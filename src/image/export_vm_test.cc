// The exported descriptors read back through ferry import's own parsers.
#include "image/export_vm.h"

#include <gtest/gtest.h>

#include "image/vm_source.h"

namespace ferry::image {
namespace {

ExportVm Sample() {
  ExportVm vm;
  vm.name = "web \"one\" & <two>";
  vm.memory_mib = 1536;
  vm.vcpus = 3;
  vm.firmware = "efi";
  vm.disks = {{"web-disk0.vmdk", "/srv/web/web-disk0.qcow2", 64ull << 20, 12345},
              {"web-disk1.vmdk", "/srv/web/web-disk1.qcow2", 1ull << 30, 678}};
  vm.nics = {{"00:50:56:01:02:03"}, {"52:54:00:aa:bb:cc"}, {""}};
  return vm;
}

TEST(ExportVm, Helpers) {
  EXPECT_TRUE(InVmwareStaticRange("00:50:56:00:00:00"));
  EXPECT_TRUE(InVmwareStaticRange("00:50:56:3f:ff:ff"));
  EXPECT_FALSE(InVmwareStaticRange("00:50:56:40:00:00"));
  EXPECT_FALSE(InVmwareStaticRange("52:54:00:12:34:56"));
  EXPECT_EQ(ScsiSlot(0), "scsi0:0");
  EXPECT_EQ(ScsiSlot(6), "scsi0:6");
  EXPECT_EQ(ScsiSlot(7), "scsi0:8");
  EXPECT_EQ(ScsiSlot(14), "scsi0:15");
  EXPECT_EQ(ScsiSlot(15), "scsi1:0");
  EXPECT_EQ(DiskLetters(0), "a");
  EXPECT_EQ(DiskLetters(25), "z");
  EXPECT_EQ(DiskLetters(26), "aa");
  EXPECT_EQ(DiskLetters(27), "ab");
  EXPECT_EQ(XmlEscape("<a href='x'>&\"</a>"), "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;");
}

TEST(ExportVm, VmxParsesBack) {
  ExportVm vm = Sample();
  std::string text = VmxText(vm);
  EXPECT_NE(text.find("guestOS = \"other5xlinux-64\""), std::string::npos);
  EXPECT_NE(text.find("scsi0.virtualDev = \"lsilogic\""), std::string::npos);
  EXPECT_EQ(text.find("ethernet0.checkMACAddress"), std::string::npos);
  EXPECT_NE(text.find("ethernet1.checkMACAddress = \"FALSE\""), std::string::npos);
  EXPECT_NE(text.find("ethernet2.addressType = \"generated\""), std::string::npos);
  Result<SourceVm> back = ParseVmx(text, "/dir");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->name, vm.name);
  EXPECT_EQ(back->memory_bytes, 1536ull << 20);
  EXPECT_EQ(back->vcpus, 3u);
  EXPECT_EQ(back->firmware, "efi");
  ASSERT_EQ(back->disks.size(), 2u);
  EXPECT_EQ(back->disks[0].path, "/dir/web-disk0.vmdk");
  EXPECT_EQ(back->disks[1].target, "scsi0:1");
  ASSERT_EQ(back->nics.size(), 3u);
  EXPECT_EQ(back->nics[0].mac, "00:50:56:01:02:03");
  EXPECT_EQ(back->nics[1].mac, "52:54:00:aa:bb:cc");
  EXPECT_EQ(back->nics[2].mac, "");
}

TEST(ExportVm, VmxKeepsARecordedVmwareGuestOs) {
  ExportVm vm = Sample();
  vm.guest_os = "debian11-64";
  Result<SourceVm> back = ParseVmx(VmxText(vm), "/dir");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->guest_os, "debian11-64");
}

TEST(ExportVm, OvfParsesBack) {
  ExportVm vm = Sample();
  Result<SourceVm> back = ParseOvf(OvfText(vm));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->name, vm.name);
  EXPECT_EQ(back->memory_bytes, 1536ull << 20);
  EXPECT_EQ(back->vcpus, 3u);
  EXPECT_EQ(back->firmware, "efi");
  ASSERT_EQ(back->disks.size(), 2u);
  EXPECT_EQ(back->disks[0].path, "web-disk0.vmdk");
  EXPECT_EQ(back->disks[1].path, "web-disk1.vmdk");
  ASSERT_EQ(back->nics.size(), 3u);
  EXPECT_EQ(back->nics[1].mac, "52:54:00:aa:bb:cc");
  EXPECT_EQ(back->nics[2].mac, "");
}

TEST(ExportVm, LibvirtParsesBack) {
  ExportVm vm = Sample();
  Result<SourceVm> back = ParseLibvirtDomain(LibvirtText(vm), "/elsewhere");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->name, vm.name);
  EXPECT_EQ(back->memory_bytes, 1536ull << 20);
  EXPECT_EQ(back->vcpus, 3u);
  EXPECT_EQ(back->firmware, "efi");
  ASSERT_EQ(back->disks.size(), 2u);
  EXPECT_EQ(back->disks[1].path, "/srv/web/web-disk1.qcow2");
  EXPECT_EQ(back->disks[1].target, "vdb");
  EXPECT_EQ(back->disks[1].format, Format::kQcow2);
  ASSERT_EQ(back->nics.size(), 3u);
  EXPECT_EQ(back->nics[0].mac, "00:50:56:01:02:03");
  EXPECT_TRUE(back->not_carried.size() == 1);  // the NIC without a MAC
}

}  // namespace
}  // namespace ferry::image
