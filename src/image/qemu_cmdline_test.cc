#include <gtest/gtest.h>

#include "image/vm_source.h"

namespace ferry::image {
namespace {

bool Has(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

constexpr const char* kScript = R"(#!/bin/sh
# the web VM, started by hand
IMG=/srv/vm
exec qemu-system-x86_64 -enable-kvm -name guest=web,debug-threads=on \
  -machine q35,accel=kvm -cpu host -m 2G -smp sockets=1,cores=2,threads=2 \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
  -drive if=pflash,format=raw,file=web_VARS.fd \
  -drive file=data.qcow2,if=none,id=d1,format=qcow2 \
  -drive file="root disk.qcow2",if=virtio,format=qcow2 \
  -device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=d1 \
  -blockdev driver=raw,node-name=d2,file.driver=file,file.filename=/srv/vm/scratch.img \
  -device virtio-blk-pci,drive=d2 \
  -cdrom /srv/iso/install.iso \
  -netdev tap,id=n0,ifname=tap0,script=no -device virtio-net-pci,netdev=n0,mac=52:54:00:AB:CD:01 \
  -nic user,model=e1000 \
  -device qxl-vga -display none -serial mon:stdio \
  -kernel vmlinuz -append 'root=/dev/vda1 console=ttyS0'
echo done
)";

TEST(QemuCommandLine, ReadsTheMachine) {
  ASSERT_TRUE(LooksLikeQemuCommandLine(kScript));
  Result<SourceVm> vm = ParseQemuCommandLine(kScript, "/srv/vm");
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->kind, "qemu");
  EXPECT_EQ(vm->name, "web");
  EXPECT_EQ(vm->memory_bytes, 2ull << 30);
  EXPECT_EQ(vm->vcpus, 4u);
  EXPECT_EQ(vm->firmware, "efi");
  EXPECT_EQ(vm->kernel, "/srv/vm/vmlinuz");
  EXPECT_EQ(vm->cmdline, "root=/dev/vda1 console=ttyS0");
  ASSERT_EQ(vm->disks.size(), 3u);
  EXPECT_EQ(vm->disks[0].path, "/srv/vm/root disk.qcow2");  // if=virtio: attached at once
  EXPECT_EQ(vm->disks[0].bus, "virtio");
  EXPECT_EQ(vm->disks[1].path, "/srv/vm/data.qcow2");  // then -device order
  EXPECT_EQ(vm->disks[1].bus, "scsi");
  EXPECT_EQ(*vm->disks[1].format, Format::kQcow2);
  EXPECT_EQ(vm->disks[2].path, "/srv/vm/scratch.img");
  EXPECT_EQ(vm->disks[2].bus, "virtio");
  EXPECT_EQ(*vm->disks[2].format, Format::kRaw);
  ASSERT_EQ(vm->nics.size(), 2u);
  EXPECT_EQ(vm->nics[0].mac, "52:54:00:ab:cd:01");
  EXPECT_EQ(vm->nics[0].model, "virtio-net-pci");
  EXPECT_EQ(vm->nics[1].mac, "");
  EXPECT_TRUE(Has(vm->not_carried, "CD/DVD (/srv/iso/install.iso)"));
  EXPECT_TRUE(Has(vm->not_carried, "UEFI variables (web_VARS.fd)"));
  EXPECT_TRUE(Has(vm->not_carried, "-device qxl-vga"));
  EXPECT_TRUE(Has(vm->not_carried, "MAC address of NIC 1"));
}

TEST(QemuCommandLine, DefaultsAndShortForms) {
  Result<SourceVm> vm = ParseQemuCommandLine("qemu-kvm disk.img -m 512 -smp 3", "/d");
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->memory_bytes, 512ull << 20);
  EXPECT_EQ(vm->vcpus, 3u);
  ASSERT_EQ(vm->disks.size(), 1u);
  EXPECT_EQ(vm->disks[0].path, "/d/disk.img");
  EXPECT_EQ(vm->disks[0].bus, "ide");
  Result<SourceVm> bare = ParseQemuCommandLine("/usr/bin/qemu-system-x86_64 -hda a.raw", "/d");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->memory_bytes, 128ull << 20);  // QEMU's default
}

TEST(QemuCommandLine, ClearErrors) {
  auto error = [](const char* text) {
    Result<SourceVm> vm = ParseQemuCommandLine(text, "/d");
    return vm.ok() ? std::string() : vm.error().message();
  };
  EXPECT_EQ(error("echo hello"),
            "qemu command line: no qemu-system-* or qemu-kvm command in the file");
  EXPECT_EQ(error("qemu-kvm -m"), "qemu command line: -m needs a value");
  EXPECT_EQ(error("qemu-kvm -m lots"), "qemu command line: -m 'lots' is not a size");
  EXPECT_EQ(error("qemu-kvm -smp sockets=2,cores=200"),
            "qemu command line: -smp sockets=2,cores=200: CPU count out of range");
  EXPECT_EQ(error("qemu-kvm -drive 'file=a"), "qemu command line: a quoted string is not closed");
  EXPECT_NE(error("qemu-kvm -blockdev '{\"driver\":\"qcow2\"}'").find("JSON form"),
            std::string::npos);
  EXPECT_FALSE(LooksLikeQemuCommandLine("name = 'qemu-system-x86_64'\n"));
  EXPECT_TRUE(LooksLikeQemuCommandLine(
      "IMG=a.raw\nsudo env X=1 qemu-system-x86_64 -m 1G\n"));  // taskset's argument list is not
                                                               // followed: not required
}

}  // namespace
}  // namespace ferry::image
