// The OVF 1.0 descriptor (DMTF DSP0243 1.0) of an exported VM, in the shape
// VMware's own exports have, so that vSphere, Workstation and VirtualBox take
// it: References, DiskSection (streamOptimized VMDKs), NetworkSection, and
// one VirtualSystem whose VirtualHardwareSection lists CIM items with their
// rasd elements in schema (alphabetical) order.
#include "image/export_vm.h"

namespace ferry::image {
namespace {

constexpr const char* kHeader =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"\n"
    "    xmlns:cim=\"http://schemas.dmtf.org/wbem/wscim/1/common\"\n"
    "    xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\"\n"
    "    xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
    "CIM_ResourceAllocationSettingData\"\n"
    "    xmlns:vmw=\"http://www.vmware.com/schema/ovf\"\n"
    "    xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
    "CIM_VirtualSystemSettingData\"\n"
    "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n";
constexpr const char* kNetwork = "VM Network";
constexpr const char* kStreamFormat =
    "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";

std::string Tag(const std::string& name, const std::string& value) {
  return "<" + name + ">" + XmlEscape(value) + "</" + name + ">";
}

std::string References(const ExportVm& vm) {
  std::string out = "  <References>\n";
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    out += "    <File ovf:href=\"" + XmlEscape(vm.disks[i].file) + "\" ovf:id=\"file" +
           std::to_string(i + 1) + "\" ovf:size=\"" + std::to_string(vm.disks[i].file_size) +
           "\"/>\n";
  }
  return out + "  </References>\n";
}

std::string DiskSection(const ExportVm& vm) {
  std::string out = "  <DiskSection>\n    <Info>Virtual disk information</Info>\n";
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    out += "    <Disk ovf:capacity=\"" + std::to_string(vm.disks[i].capacity) +
           "\" ovf:capacityAllocationUnits=\"byte\" ovf:diskId=\"vmdisk" + n +
           "\" ovf:fileRef=\"file" + n + "\" ovf:format=\"" + kStreamFormat + "\"/>\n";
  }
  return out + "  </DiskSection>\n";
}

std::string NetworkSection() {
  return std::string("  <NetworkSection>\n    <Info>The list of logical networks</Info>\n") +
         "    <Network ovf:name=\"" + kNetwork + "\">\n      " +
         Tag("Description", std::string("The ") + kNetwork + " network") +
         "\n    </Network>\n  </NetworkSection>\n";
}

// One hardware item; `fields` are (rasd name, value) in schema order.
std::string Item(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "      <Item>\n";
  for (const auto& [name, value] : fields) out += "        " + Tag("rasd:" + name, value) + "\n";
  return out + "      </Item>\n";
}

std::string Hardware(const ExportVm& vm) {
  std::string out =
      "    <VirtualHardwareSection>\n      <Info>Virtual hardware requirements</Info>\n"
      "      <System>\n        " +
      Tag("vssd:ElementName", "Virtual Hardware Family") + "\n        " +
      Tag("vssd:InstanceID", "0") + "\n        " + Tag("vssd:VirtualSystemIdentifier", vm.name) +
      "\n        " + Tag("vssd:VirtualSystemType", "vmx-14") + "\n      </System>\n";
  int id = 1;
  const std::string cpus = std::to_string(vm.vcpus);
  out += Item({{"AllocationUnits", "hertz * 10^6"},
               {"Description", "Number of Virtual CPUs"},
               {"ElementName", cpus + " virtual CPU(s)"},
               {"InstanceID", std::to_string(id++)},
               {"ResourceType", "3"},
               {"VirtualQuantity", cpus}});
  const std::string mib = std::to_string(vm.memory_mib);
  out += Item({{"AllocationUnits", "byte * 2^20"},
               {"Description", "Memory Size"},
               {"ElementName", mib + "MB of memory"},
               {"InstanceID", std::to_string(id++)},
               {"ResourceType", "4"},
               {"VirtualQuantity", mib}});
  // One LSI Logic controller per 15 disks, as in the VMX.
  std::vector<int> controllers;
  for (size_t c = 0; c * 15 < vm.disks.size(); ++c) {
    controllers.push_back(id);
    out += Item({{"Address", std::to_string(c)},
                 {"Description", "SCSI Controller"},
                 {"ElementName", "SCSI Controller " + std::to_string(c)},
                 {"InstanceID", std::to_string(id++)},
                 {"ResourceSubType", "lsilogic"},
                 {"ResourceType", "6"}});
  }
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const std::string slot = ScsiSlot(i);
    out += Item({{"AddressOnParent", slot.substr(slot.find(':') + 1)},
                 {"ElementName", "Hard Disk " + std::to_string(i + 1)},
                 {"HostResource", "ovf:/disk/vmdisk" + std::to_string(i + 1)},
                 {"InstanceID", std::to_string(id++)},
                 {"Parent", std::to_string(controllers[i / 15])},
                 {"ResourceType", "17"}});
  }
  for (size_t i = 0; i < vm.nics.size(); ++i) {
    std::vector<std::pair<std::string, std::string>> fields;
    if (!vm.nics[i].mac.empty()) fields.push_back({"Address", vm.nics[i].mac});
    fields.insert(fields.end(),
                  {{"AddressOnParent", std::to_string(7 + i)},
                   {"AutomaticAllocation", "true"},
                   {"Connection", kNetwork},
                   {"Description", "VmxNet3 ethernet adapter on \"" + std::string(kNetwork) + "\""},
                   {"ElementName", "Network adapter " + std::to_string(i + 1)},
                   {"InstanceID", std::to_string(id++)},
                   {"ResourceSubType", "VmxNet3"},
                   {"ResourceType", "10"}});
    out += Item(fields);
  }
  if (!vm.firmware.empty()) {
    out += "      <vmw:Config ovf:required=\"false\" vmw:key=\"firmware\" vmw:value=\"" +
           XmlEscape(vm.firmware) + "\"/>\n";
  }
  return out + "    </VirtualHardwareSection>\n";
}

}  // namespace

std::string OvfText(const ExportVm& vm) {
  // CIM operating system 101 is "Linux 64-Bit", VMware's otherLinux64Guest.
  std::string os = vm.guest_os.empty() ? "Other Linux (64-bit)" : vm.guest_os;
  return kHeader + References(vm) + DiskSection(vm) + NetworkSection() +
         "  <VirtualSystem ovf:id=\"" + XmlEscape(vm.name) +
         "\">\n    <Info>A virtual machine</Info>\n    " + Tag("Name", vm.name) +
         "\n    <OperatingSystemSection ovf:id=\"101\" vmw:osType=\"otherLinux64Guest\">\n"
         "      <Info>The kind of installed guest operating system</Info>\n      " +
         Tag("Description", os) + "\n    </OperatingSystemSection>\n" + Hardware(vm) +
         "  </VirtualSystem>\n</Envelope>\n";
}

}  // namespace ferry::image
