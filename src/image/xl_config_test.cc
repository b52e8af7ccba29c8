#include <gtest/gtest.h>

#include "image/vm_source.h"

namespace ferry::image {
namespace {

constexpr const char* kConfig = R"(# /etc/xen/web.cfg
name = "web"
type = "pv"
bootloader = "pygrub"
memory = 2048
maxmem = 4096
vcpus = 2
disk = [ 'phy:/dev/vg0/web-data,xvdb,w',
         "format=qcow2, vdev=xvda, access=rw, target=disks/web-root.qcow2",
         'file:/srv/iso/debian.iso,hdc:cdrom,r',
         'tap:aio:scratch.img,raw,xvdc,r', ]
vif = [ 'mac=00:16:3e:5a:01:02,bridge=xenbr0', 'bridge=xenbr1,model=e1000' ]
vfb = [ 'vnc=1' ]
on_crash = 'restart'
)";

TEST(XlConfig, MachineDisksAndNics) {
  Result<SourceVm> vm = ParseXlConfig(kConfig, "/etc/xen");
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->kind, "xl");
  EXPECT_EQ(vm->name, "web");
  EXPECT_EQ(vm->memory_bytes, 2048ull << 20);
  EXPECT_EQ(vm->vcpus, 2u);
  EXPECT_EQ(vm->guest_os, "xen-pv");
  ASSERT_EQ(vm->disks.size(), 3u);  // the CD stays behind; sorted by letter
  EXPECT_EQ(vm->disks[0].target, "xvda");
  EXPECT_EQ(vm->disks[0].path, "/etc/xen/disks/web-root.qcow2");
  ASSERT_TRUE(vm->disks[0].format.has_value());
  EXPECT_EQ(*vm->disks[0].format, Format::kQcow2);
  EXPECT_EQ(vm->disks[1].target, "xvdb");
  EXPECT_EQ(vm->disks[1].path, "/dev/vg0/web-data");
  EXPECT_FALSE(vm->disks[1].format.has_value());
  EXPECT_EQ(vm->disks[2].target, "xvdc");
  EXPECT_EQ(vm->disks[2].path, "/etc/xen/scratch.img");
  EXPECT_EQ(*vm->disks[2].format, Format::kRaw);
  EXPECT_EQ(vm->disks[0].bus, "xen");
  ASSERT_EQ(vm->nics.size(), 2u);
  EXPECT_EQ(vm->nics[0].mac, "00:16:3e:5a:01:02");
  EXPECT_EQ(vm->nics[0].network, "xenbr0");
  EXPECT_EQ(vm->nics[1].mac, "");
  EXPECT_EQ(vm->nics[1].model, "e1000");
  auto has = [](const std::vector<std::string>& lines, const std::string& text) {
    for (const std::string& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(vm->not_carried, "CD/DVD hdc (/srv/iso/debian.iso)"));
  EXPECT_TRUE(has(vm->not_carried, "MAC address of vif 1"));
  EXPECT_TRUE(has(vm->not_carried, "'vfb' devices"));
  EXPECT_TRUE(has(vm->not_carried, "maxmem 4096"));
  EXPECT_TRUE(has(vm->notes, "Xen pv guest"));
  EXPECT_TRUE(has(vm->notes, "disk xvdc was read-only"));
}

TEST(XlConfig, HvmDefaultsAndDetection) {
  Result<SourceVm> vm = ParseXlConfig("name='w'\nbuilder='hvm'\nfirmware='ovmf'\n", "/x");
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->memory_bytes, 128ull << 20);
  EXPECT_EQ(vm->vcpus, 1u);
  EXPECT_EQ(vm->firmware, "efi");
  EXPECT_EQ(vm->guest_os, "xen-hvm");
  EXPECT_TRUE(LooksLikeXlConfig(kConfig));
  EXPECT_TRUE(LooksLikeXlConfig("memory=512\nname=\"a\"\n"));
  EXPECT_FALSE(LooksLikeXlConfig("displayName = \"x\"\nmemsize = \"512\"\n"));
  EXPECT_FALSE(LooksLikeXlConfig("<domain type='xen'>"));
}

TEST(XlConfig, ClearErrors) {
  auto error = [](const char* text) {
    Result<SourceVm> vm = ParseXlConfig(text, "/x");
    return vm.ok() ? std::string() : vm.error().message();
  };
  EXPECT_EQ(error("memory = 512\n"), "xl config: no 'name' setting");
  EXPECT_EQ(error("name='a'\nmemory='lots'\n"), "xl config: memory 'lots' is not a number");
  EXPECT_EQ(error("name='a'\nvcpus=0\n"), "xl config: vcpus 0 is out of range");
  EXPECT_EQ(error("name='a'\ndisk=['x.img,xvda']\n"),
            "xl config: disk 'x.img,xvda': expected TARGET,VDEV,ACCESS or key=value settings");
  EXPECT_EQ(error("name='a'\ndisk=['vdev=xvda']\n"), "xl config: disk 'vdev=xvda' names no target");
  EXPECT_EQ(error("name='a\n"), "xl config: line 2: a string is not closed");
  EXPECT_EQ(error("name='a'\ndisk=['a' 'b']\n"),
            "xl config: line 2: expected ',' or ']' in a list");
  EXPECT_EQ(error("name 'a'\n"), "xl config: line 1: expected '=' after name");
}

}  // namespace
}  // namespace ferry::image
