// A Proxmox VE VM configuration (qm.conf(5)) for the machine ferry ran:
// virtio-blk disks (the guest keeps its /dev/vdX names) as volumes of a
// directory storage, virtio NICs on the default bridge vmbr0 keeping their
// MAC addresses, and the rest of what qm would write for a Linux guest.
#include "image/export_vm.h"

namespace ferry::image {
namespace {

// Proxmox takes DNS-style names: letters, digits, '-' and '.'.
std::string DnsName(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.';
    out += keep ? c : '-';
  }
  while (!out.empty() && (out.front() == '-' || out.front() == '.')) out.erase(0, 1);
  return out.empty() ? "ferry-vm" : out;
}

std::string SizeOption(uint64_t bytes) {
  const uint64_t mib = (bytes + (1 << 20) - 1) >> 20;
  return mib % 1024 == 0 ? std::to_string(mib / 1024) + "G" : std::to_string(mib) + "M";
}

}  // namespace

std::string ProxmoxText(const ExportVm& vm, uint64_t vmid, const std::string& storage) {
  std::string out = "# written by ferry export\n";
  if (!vm.disks.empty()) out += "boot: order=virtio0\n";
  if (vm.firmware == "efi") out += "bios: ovmf\n";
  out += "cores: " + std::to_string(vm.vcpus) + "\n";
  out += "memory: " + std::to_string(vm.memory_mib) + "\n";
  out += "name: " + DnsName(vm.name) + "\n";
  for (size_t i = 0; i < vm.nics.size(); ++i) {
    out += "net" + std::to_string(i) + ": " +
           (vm.nics[i].mac.empty() ? "model=virtio" : "virtio=" + vm.nics[i].mac) +
           ",bridge=vmbr0\n";
  }
  out += "ostype: l26\nscsihw: virtio-scsi-single\nsockets: 1\n";
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    out += "virtio" + std::to_string(i) + ": " + storage + ":" + std::to_string(vmid) + "/" +
           vm.disks[i].file + ",size=" + SizeOption(vm.disks[i].capacity) + "\n";
  }
  return out;
}

}  // namespace ferry::image
