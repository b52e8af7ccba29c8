// A VMX for VMware Workstation and ESXi: hardware version 14 (Workstation 14,
// ESXi 6.7 and later), disks on LSI Logic SCSI controllers (Linux kernels
// carry its driver, mptspi), vmxnet3 NICs keeping their MAC addresses.
#include <cstdio>
#include <set>

#include "image/export_vm.h"

namespace ferry::image {
namespace {

// VMX values are quoted; VMware escapes '"', '|' and control characters as
// |XX (the reader decodes them the same way).
std::string Quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '|' || u < 0x20) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "|%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void Line(std::string& out, const std::string& key, const std::string& value) {
  out += key + " = " + Quote(value) + "\n";
}

// The PCI bridges VMware itself writes for hardware version 7 and later;
// vmxnet3 sits behind the PCIe root ports.
void PciBridges(std::string& out) {
  Line(out, "pciBridge0.present", "TRUE");
  for (int n = 4; n <= 7; ++n) {
    const std::string b = "pciBridge" + std::to_string(n);
    Line(out, b + ".present", "TRUE");
    Line(out, b + ".virtualDev", "pcieRootPort");
    Line(out, b + ".functions", "8");
  }
}

void Disks(std::string& out, const ExportVm& vm) {
  std::set<std::string> controllers;
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const std::string slot = ScsiSlot(i);
    const std::string ctl = slot.substr(0, slot.find(':'));
    if (controllers.insert(ctl).second) {
      Line(out, ctl + ".present", "TRUE");
      Line(out, ctl + ".virtualDev", "lsilogic");
    }
    Line(out, slot + ".present", "TRUE");
    Line(out, slot + ".deviceType", "scsi-hardDisk");
    Line(out, slot + ".fileName", vm.disks[i].file);
  }
}

void Nics(std::string& out, const ExportVm& vm) {
  for (size_t i = 0; i < vm.nics.size(); ++i) {
    const std::string e = "ethernet" + std::to_string(i);
    const std::string& mac = vm.nics[i].mac;
    Line(out, e + ".present", "TRUE");
    Line(out, e + ".virtualDev", "vmxnet3");
    Line(out, e + ".networkName", "VM Network");  // ESXi's default port group
    if (mac.empty()) {
      Line(out, e + ".addressType", "generated");  // VMware assigns one
      continue;
    }
    Line(out, e + ".addressType", "static");
    Line(out, e + ".address", mac);
    // ESXi refuses a static MAC outside its range unless told not to check.
    if (!InVmwareStaticRange(mac)) Line(out, e + ".checkMACAddress", "FALSE");
  }
}

}  // namespace

std::string VmxText(const ExportVm& vm) {
  std::string out;
  Line(out, ".encoding", "UTF-8");
  Line(out, "config.version", "8");
  Line(out, "virtualHW.version", "14");
  Line(out, "displayName", vm.name);
  Line(out, "guestOS", vm.guest_os.empty() ? kGenericVmwareGuestOs : vm.guest_os);
  Line(out, "memsize", std::to_string(vm.memory_mib));
  Line(out, "numvcpus", std::to_string(vm.vcpus));
  if (!vm.firmware.empty()) Line(out, "firmware", vm.firmware);
  PciBridges(out);
  Disks(out, vm);
  Nics(out, vm);
  return out;
}

}  // namespace ferry::image
