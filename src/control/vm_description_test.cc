#include "control/vm_description.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

std::string ErrorOf(const std::string& text) {
  Result<VmDescription> vm = ParseVmDescription(text, "/vms/web", "vm.json");
  return vm.ok() ? "" : vm.error().message();
}

TEST(VmDescription, WhatExportCarriesToOtherPlatforms) {
  Result<VmDescription> vm = ParseVmDescription(
      R"({"name":"web","memory":1025000000,"vcpus":1,"firmware":"efi","guest_os":"ubuntu-64",
          "imported_from":{"kind":"vmx","path":"/x/web.vmx"}})",
      "/vms/web", "vm.json");
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->recorded_memory_bytes, 1025000000u);  // not rounded for ferry's slots
  EXPECT_EQ(vm->firmware, "efi");
  EXPECT_EQ(vm->guest_os, "ubuntu-64");
  EXPECT_EQ(vm->imported_from, "vmx");
  EXPECT_NE(ErrorOf(R"({"guest_os":5})"), "");
}

TEST(VmDescription, WhatImportWrites) {
  Result<VmDescription> vm = ParseVmDescription(
      R"({"name":"web","memory":1048576000,"vcpus":2,"firmware":"bios",
          "disks":[{"file":"disk0.raw","format":"raw","bus":"virtio"},
                   {"file":"/data/disk1.qcow2","format":"qcow2"}],
          "nics":[{"mac":"00:50:56:01:02:03","model":"virtio-net"},{"mac":null}],
          "notes":["x"]})",
      "/vms/web", "vm.json");
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->name, "web");
  EXPECT_EQ(vm->memory_bytes, 1000ull << 20);  // already a 2 MiB multiple
  EXPECT_EQ(vm->cpus, 2u);
  ASSERT_EQ(vm->disks.size(), 2u);
  EXPECT_EQ(vm->disks[0].path, "/vms/web/disk0.raw");
  EXPECT_EQ(vm->disks[0].format, "raw");
  EXPECT_EQ(vm->disks[1].path, "/data/disk1.qcow2");
  EXPECT_EQ(vm->disks[1].format, "qcow2");
  ASSERT_EQ(vm->nic_macs.size(), 2u);
  ASSERT_TRUE(vm->nic_macs[0].has_value());
  EXPECT_EQ(FormatMac(*vm->nic_macs[0]), "00:50:56:01:02:03");
  EXPECT_FALSE(vm->nic_macs[1].has_value());
  EXPECT_TRUE(vm->kernel.empty());
}

TEST(VmDescription, MemoryRoundsUpToTwoMiBAndAtLeastSixteen) {
  Result<VmDescription> odd = ParseVmDescription(R"({"memory":1049600000})", "/d", "vm.json");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->memory_bytes % (2 << 20), 0u);
  EXPECT_GE(odd->memory_bytes, 1049600000u);
  EXPECT_LT(odd->memory_bytes, 1049600000u + (2 << 20));
  Result<VmDescription> tiny = ParseVmDescription(R"({"memory":4096})", "/d", "vm.json");
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->memory_bytes, 16u << 20);
  Result<VmDescription> none = ParseVmDescription(R"({"memory":0,"vcpus":0})", "/d", "vm.json");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->memory_bytes, 0u);
  EXPECT_EQ(none->cpus, 0u);
}

TEST(VmDescription, KernelAndCmdlineAUserAdded) {
  Result<VmDescription> vm = ParseVmDescription(
      R"({"kernel":"boot/vmlinuz","cmdline":"root=/dev/vda1 console=ttyS0"})", "/vms/a", "vm.json");
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ(vm->kernel, "/vms/a/boot/vmlinuz");
  EXPECT_EQ(vm->cmdline, "root=/dev/vda1 console=ttyS0");
}

TEST(VmDescription, ClearErrors) {
  EXPECT_NE(ErrorOf("{nope").find("vm.json: not a VM description"), std::string::npos);
  EXPECT_EQ(ErrorOf("[1]"), "vm.json: not a VM description (expected a JSON object)");
  EXPECT_EQ(ErrorOf(R"({"memory":"1G"})"), "vm.json: 'memory' must be a non-negative integer");
  EXPECT_EQ(ErrorOf(R"({"vcpus":-1})"), "vm.json: 'vcpus' must be a non-negative integer");
  EXPECT_EQ(ErrorOf(R"({"vcpus":300})"), "vm.json: 'vcpus' 300 is more than 255");
  EXPECT_EQ(ErrorOf(R"({"disks":{}})"), "vm.json: 'disks' must be a list");
  EXPECT_EQ(ErrorOf(R"({"disks":[{"format":"raw"}]})"), "vm.json: disks[0] has no 'file'");
  EXPECT_EQ(ErrorOf(R"({"disks":[{"file":7}]})"), "vm.json: 'file' must be a string");
  EXPECT_NE(ErrorOf(R"({"nics":[{"mac":"01:00:5e:00:00:01"}]})").find("vm.json: nics[0]: "),
            std::string::npos);
}

}  // namespace
}  // namespace ferry
