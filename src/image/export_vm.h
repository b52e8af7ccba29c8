// What `ferry export` writes for another platform, from a ferry VM
// description: the machine as VMware (VMX, OVF 1.0) and libvirt describe it.
// Pure text generators; the command (control/export_command.cc) converts the
// disks and puts the files in place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::image {

struct ExportDisk {
  std::string file;        // the disk file's name as written beside the descriptor
  std::string path;        // libvirt: the absolute path it will have
  uint64_t capacity = 0;   // virtual size in bytes
  uint64_t file_size = 0;  // OVF: the file's size in the package
};

struct ExportNic {
  std::string mac;  // lower-case "xx:xx:xx:xx:xx:xx"; empty: the platform assigns one
};

struct ExportVm {
  std::string name;
  uint64_t memory_mib = 0;
  uint32_t vcpus = 1;
  std::string firmware;  // "bios", "efi" or "" (not recorded)
  std::string guest_os;  // VMware guestOS (VMX) or "" for a generic 64-bit Linux
  std::vector<ExportDisk> disks;
  std::vector<ExportNic> nics;
};

// VMware's generic 64-bit Linux, for guests whose kind was not recorded.
inline constexpr const char* kGenericVmwareGuestOs = "other5xlinux-64";

// True for MACs in VMware's static range 00:50:56:00:00:00-00:50:56:3f:ff:ff,
// the only static MACs ESXi accepts unless ethernetN.checkMACAddress is FALSE.
bool InVmwareStaticRange(const std::string& mac);
// The SCSI slot ("scsi0:1") of disk `index`: units 0-15 but 7, which is the
// controller's own, 15 disks per controller.
std::string ScsiSlot(size_t index);
// Linux's name for disk `index` after `prefix`: 0 -> "a", 25 -> "z", 26 -> "aa".
std::string DiskLetters(size_t index);
// &, <, >, ' and " as XML entities.
std::string XmlEscape(const std::string& text);

std::string VmxText(const ExportVm& vm);
// The OVF 1.0 descriptor of an OVA whose disks are streamOptimized VMDKs.
std::string OvfText(const ExportVm& vm);
// A libvirt domain (type kvm) with virtio qcow2 disks and virtio NICs on
// libvirt's 'default' network.
std::string LibvirtText(const ExportVm& vm);
// A Proxmox VE qemu-server configuration (VMID.conf): virtio disks on
// storage `storage` as VMID/FILE volumes, virtio NICs on vmbr0.
std::string ProxmoxText(const ExportVm& vm, uint64_t vmid, const std::string& storage);
// A PowerShell script that creates the VM in Hyper-V from the VHDX disks
// beside it: generation 2 (UEFI, SCSI boot) when EFI was recorded, else
// generation 1 (BIOS, boot disk on IDE), NICs with static MACs.
std::string HyperVScript(const ExportVm& vm);
// A Xen xl configuration (HVM, PV drivers): raw disks as xvda, xvdb, ... and
// vifs on bridge xenbr0 keeping their MAC addresses.
std::string XlText(const ExportVm& vm);

}  // namespace ferry::image
