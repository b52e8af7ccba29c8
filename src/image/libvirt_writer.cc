// A libvirt domain (https://libvirt.org/formatdomain.html) for KVM: the
// machine ferry ran, with virtio disks (qcow2, vda, vdb, ... in order, so
// the guest's device names stay) and virtio NICs on libvirt's 'default'
// network keeping their MAC addresses. Disk paths are absolute: libvirt
// does not resolve relative ones.
#include "image/export_vm.h"

namespace ferry::image {

std::string LibvirtText(const ExportVm& vm) {
  std::string out = "<domain type='kvm'>\n  <name>" + XmlEscape(vm.name) + "</name>\n";
  out += "  <memory unit='KiB'>" + std::to_string(vm.memory_mib * 1024) + "</memory>\n";
  out += "  <vcpu>" + std::to_string(vm.vcpus) + "</vcpu>\n";
  out += vm.firmware == "efi" ? "  <os firmware='efi'>\n" : "  <os>\n";
  out += "    <type arch='x86_64'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n";
  out += "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n  <devices>\n";
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    out +=
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='" +
        XmlEscape(vm.disks[i].path) + "'/>\n      <target dev='vd" + DiskLetters(i) +
        "' bus='virtio'/>\n    </disk>\n";
  }
  for (const ExportNic& nic : vm.nics) {
    out += "    <interface type='network'>\n";
    if (!nic.mac.empty()) out += "      <mac address='" + nic.mac + "'/>\n";
    out +=
        "      <source network='default'/>\n      <model type='virtio'/>\n"
        "    </interface>\n";
  }
  return out + "  </devices>\n</domain>\n";
}

}  // namespace ferry::image
