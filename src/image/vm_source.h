// What ferry import reads out of a foreign VM description (VMware VMX, OVF,
// libvirt domain XML, Xen xl configuration) before it converts anything: the machine, its disks
// and NICs, and every part of it that ferry cannot carry over.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "image/image.h"

namespace ferry::image {

struct SourceDisk {
  std::string path;              // resolved file (VMX/libvirt) or OVA/OVF member name
  std::optional<Format> format;  // nullopt: probe
  std::string bus;               // as the source names it: scsi, sata, ide, virtio, xen, ...
  std::string target;            // the source's device name or slot, e.g. "sda", "scsi0:1"
  std::string origin;            // for the record when `path` is a scratch copy (OVA members)
  // From an OVF/OVA package: must be one self-contained file (no VMDK
  // descriptor naming other files, no backing file), so that a package
  // cannot make ferry read files of the host into the image.
  bool packaged = false;
  // OVF File attributes: ovf:compression="gzip" (the file is gzip'd) and
  // ovf:chunkSize (the file is split into NAME.000000000, NAME.000000001...).
  bool gzip = false;
  uint64_t chunk_size = 0;
};

struct SourceNic {
  std::string mac;    // lower-case "xx:xx:xx:xx:xx:xx", empty if none kept
  std::string model;  // the source's model: vmxnet3, e1000, virtio, netfront...
  std::string network;
};

struct SourceVm {
  std::string kind;  // "vmx", "ova", "ovf", "libvirt", "xl", "proxmox", "qemu"
  std::string name;
  uint64_t memory_bytes = 0;
  uint32_t vcpus = 1;
  std::string firmware;  // "bios", "efi" or ""
  std::string guest_os;  // the source's own words for it
  std::string kernel;    // direct kernel boot (QEMU -kernel), for ferry run --vm
  std::string cmdline;
  std::vector<SourceDisk> disks;
  std::vector<SourceNic> nics;
  std::vector<std::string> not_carried;  // one line per thing left behind
  std::vector<std::string> notes;        // changes made on the way
  std::vector<std::string> warnings;     // what may stop the guest from booting
};

// "00:50:56:AB:cd:01" -> "00:50:56:ab:cd:01"; nullopt if not a MAC address.
std::optional<std::string> NormalizeMac(const std::string& text);

// Parsers. `dir` resolves relative disk paths (VMX, libvirt); OVF disks are
// named by their member name and resolved by the caller.
Result<SourceVm> ParseVmx(const std::string& text, const std::string& dir);
Result<SourceVm> ParseOvf(const std::string& text);
Result<SourceVm> ParseLibvirtDomain(const std::string& text, const std::string& dir);
// Xen's xl domain configuration (/etc/xen/NAME.cfg).
Result<SourceVm> ParseXlConfig(const std::string& text, const std::string& dir);
// True when the first part of a file reads like an xl configuration.
bool LooksLikeXlConfig(const std::string& head);

// Proxmox VE: the storages of storage.cfg, and a VM's qemu-server config.
struct ProxmoxStorage {
  std::string type;  // dir, nfs, cifs, cephfs, lvm, lvmthin, zfspool, rbd, ...
  std::string path;  // dir-like: where images/VMID/... live
  std::string vgname;
  std::string pool;
};
using ProxmoxStorages = std::map<std::string, ProxmoxStorage>;
Result<ProxmoxStorages> ParseProxmoxStorageCfg(const std::string& text);
// `storage_dirs` (from --storage NAME=DIR) override storage.cfg per storage.
Result<SourceVm> ParseProxmoxConfig(const std::string& text, const ProxmoxStorages& storages,
                                    const std::map<std::string, std::string>& storage_dirs);
bool LooksLikeProxmoxConfig(const std::string& head);

// A script that starts qemu-system-* or qemu-kvm: its first such command.
Result<SourceVm> ParseQemuCommandLine(const std::string& text, const std::string& dir);
bool LooksLikeQemuCommandLine(const std::string& head);

}  // namespace ferry::image
