#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "image/vm_source.h"

namespace ferry::image {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStorageCfg = R"(dir: local
	path /var/lib/vz
	content iso,vztmpl,backup

lvmthin: local-lvm
	thinpool data
	vgname pve
	content rootdir,images

rbd: ceph
	pool vms
	content images
)";

class ProxmoxConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry-pve-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "images" / "100");
    std::ofstream(dir_ / "images" / "100" / "vm-100-disk-1.qcow2") << "x";
    std::ofstream(dir_ / "vm-100-disk-0") << "x";  // an LVM volume copied to a file
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ProxmoxConfigTest, MachineDisksAndNics) {
  Result<ProxmoxStorages> storages = ParseProxmoxStorageCfg(kStorageCfg);
  ASSERT_TRUE(storages.ok()) << storages.error().message();
  EXPECT_EQ((*storages)["local"].path, "/var/lib/vz");
  EXPECT_EQ((*storages)["local-lvm"].vgname, "pve");
  EXPECT_EQ((*storages)["ceph"].type, "rbd");
  (*storages)["copied"] = {"dir", dir_.string(), "", ""};
  const std::string conf = R"(#web%20server
boot: order=scsi0;ide2;net0
cores: 2
sockets: 2
ide2: local:iso/debian-12.iso,media=cdrom,size=628M
memory: 3072
name: web01
net0: virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1
net1: model=e1000,macaddr=bc:24:11:00:00:02,bridge=vmbr1
ostype: l26
scsi1: copied:100/vm-100-disk-1.qcow2,size=8G
scsi0: elsewhere:vm-100-disk-0,iothread=1,size=32G
efidisk0: local-lvm:vm-100-disk-2,efitype=4m,size=4M
unused0: local-lvm:vm-100-disk-9
bios: ovmf
hostpci0: 0000:01:00.0

[before-upgrade]
memory: 1024
scsi0: local-lvm:vm-100-disk-0,size=32G
)";
  Result<SourceVm> vm = ParseProxmoxConfig(conf, *storages, {{"elsewhere", dir_.string()}});
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->kind, "proxmox");
  EXPECT_EQ(vm->name, "web01");
  EXPECT_EQ(vm->memory_bytes, 3072ull << 20);  // not the snapshot's 1024
  EXPECT_EQ(vm->vcpus, 4u);
  EXPECT_EQ(vm->firmware, "efi");
  EXPECT_EQ(vm->guest_os, "l26");
  ASSERT_EQ(vm->disks.size(), 2u);
  EXPECT_EQ(vm->disks[0].target, "scsi0");  // slot order, not file order
  EXPECT_EQ(vm->disks[0].path, (dir_ / "vm-100-disk-0").string());
  EXPECT_FALSE(vm->disks[0].format.has_value());  // probed
  EXPECT_EQ(vm->disks[1].target, "scsi1");
  EXPECT_EQ(vm->disks[1].path, (dir_ / "images" / "100" / "vm-100-disk-1.qcow2").string());
  EXPECT_EQ(*vm->disks[1].format, Format::kQcow2);
  ASSERT_EQ(vm->nics.size(), 2u);
  EXPECT_EQ(vm->nics[0].mac, "bc:24:11:2a:3b:4c");
  EXPECT_EQ(vm->nics[0].model, "virtio");
  EXPECT_EQ(vm->nics[0].network, "vmbr0");
  EXPECT_EQ(vm->nics[1].mac, "bc:24:11:00:00:02");
  EXPECT_EQ(vm->nics[1].model, "e1000");
  auto has = [](const std::vector<std::string>& lines, const std::string& text) {
    for (const std::string& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(vm->not_carried, "CD/DVD ide2"));
  EXPECT_TRUE(has(vm->not_carried, "EFI variables disk"));
  EXPECT_TRUE(has(vm->not_carried, "hostpci0"));
  EXPECT_TRUE(has(vm->notes, "unused0"));
}

TEST_F(ProxmoxConfigTest, StorageErrorsSayWhatToDo) {
  Result<ProxmoxStorages> storages = ParseProxmoxStorageCfg(kStorageCfg);
  ASSERT_TRUE(storages.ok());
  auto error = [&](const std::string& disk) {
    Result<SourceVm> vm = ParseProxmoxConfig("memory: 512\nscsi0: " + disk + "\n", *storages, {});
    return vm.ok() ? std::string() : vm.error().message();
  };
  EXPECT_NE(error("ceph:vm-100-disk-0,size=8G").find("of type rbd"), std::string::npos);
  EXPECT_NE(error("ceph:vm-100-disk-0").find("--storage ceph=DIR"), std::string::npos);
  EXPECT_NE(error("nas:100/vm-100-disk-0.qcow2").find("storage.cfg does not name"),
            std::string::npos);
  EXPECT_NE(error("local:100/vm-100-disk-0.qcow2").find("not found at /var/lib/vz/images/100/"),
            std::string::npos);
  EXPECT_NE(error("local:../../etc/shadow").find("volume name"), std::string::npos);
}

TEST(ProxmoxConfig, Detection) {
  EXPECT_TRUE(LooksLikeProxmoxConfig("cores: 2\nmemory: 2048\nscsi0: local:1/a.qcow2\n"));
  EXPECT_FALSE(LooksLikeProxmoxConfig("name = 'x'\nmemory = 512\n"));
  EXPECT_FALSE(LooksLikeProxmoxConfig("displayName = \"x\"\n"));
  Result<ProxmoxStorages> bad = ParseProxmoxStorageCfg("\tpath /x\n");
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace ferry::image
