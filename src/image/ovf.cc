// OVF descriptors (DMTF DSP0243, 1.x and 2.x): References/File name the
// files, DiskSection/Disk the disks (fileRef), and the VirtualSystem's
// VirtualHardwareSection the hardware as CIM items (rasd:ResourceType 3 CPU,
// 4 memory, 10 Ethernet, 17 disk, 14/15/16 floppy and CD/DVD, ...).
#include <map>

#include "image/vm_source.h"
#include "image/xml_doc.h"

namespace ferry::image {
namespace {

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "ovf: " + what);
}

Result<uint64_t> Number(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 15 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Bad(what + " '" + text + "' is not a number");
  }
  return std::stoull(text);
}

// "byte * 2^20", "MegaBytes", "byte": the multiplier in bytes.
Result<uint64_t> Units(std::string units) {
  std::string u;
  for (char c : units) {
    if (c != ' ') u += char(std::tolower(static_cast<unsigned char>(c)));
  }
  if (u.empty() || u == "megabytes" || u == "mb") return uint64_t(1) << 20;  // the OVF default
  if (u == "byte" || u == "bytes") return uint64_t(1);
  if (u == "kilobytes" || u == "kb") return uint64_t(1) << 10;
  if (u == "gigabytes" || u == "gb") return uint64_t(1) << 30;
  if (u.rfind("byte*2^", 0) == 0) {
    ASSIGN_OR_RETURN(uint64_t shift, Number(u.substr(7), "allocation unit exponent"));
    if (shift > 50) return Bad("allocation unit 2^" + std::to_string(shift) + " is too large");
    return uint64_t(1) << shift;
  }
  return Bad("allocation units '" + units + "' are not understood");
}

// The VirtualSystem to import: the envelope's only one.
Result<XmlNode> VirtualSystem(const XmlNode& envelope) {
  if (auto vs = envelope.Child("VirtualSystem")) return *vs;
  if (auto coll = envelope.Child("VirtualSystemCollection")) {
    auto systems = coll->Children("VirtualSystem");
    if (systems.size() == 1) return systems[0];
    return Error(ErrorCode::kUnimplemented,
                 "ovf: packages with " + std::to_string(systems.size()) +
                     " virtual systems are not supported (import one VM at a time)");
  }
  return Bad("no VirtualSystem");
}

struct PackageFile {
  std::string href;
  bool gzip = false;
  uint64_t chunk_size = 0;
};

Result<PackageFile> ParseFile(const XmlNode& f, const std::string& href) {
  PackageFile out{href};
  const std::string compression = f.Attr("compression").value_or("identity");
  if (compression == "gzip") {
    out.gzip = true;
  } else if (compression != "identity") {
    return Error(ErrorCode::kUnimplemented,
                 "ovf: file " + href + " uses compression '" + compression + "' (gzip is read)");
  }
  if (auto chunk = f.Attr("chunkSize")) {
    ASSIGN_OR_RETURN(out.chunk_size, Number(*chunk, "chunkSize of " + href));
    if (out.chunk_size == 0) return Bad("file " + href + " has chunkSize 0");
  }
  return out;
}

// disk id ("vmdisk1") -> the package file holding it.
Result<std::map<std::string, PackageFile>> DiskFiles(const XmlNode& envelope) {
  std::map<std::string, PackageFile> files;  // file id -> file
  if (auto refs = envelope.Child("References")) {
    for (const XmlNode& f : refs->Children("File")) {
      auto id = f.Attr("id");
      auto href = f.Attr("href");
      if (!id || !href) return Bad("a File lacks its id or href");
      if (href->find("://") != std::string::npos) {
        return Error(ErrorCode::kUnimplemented, "ovf: file " + *href + " is a URL; fetch it first");
      }
      ASSIGN_OR_RETURN(files[*id], ParseFile(f, *href));
    }
  }
  std::map<std::string, PackageFile> disks;
  if (auto section = envelope.Child("DiskSection")) {
    for (const XmlNode& d : section->Children("Disk")) {
      auto id = d.Attr("diskId");
      auto ref = d.Attr("fileRef");
      if (!id) return Bad("a Disk lacks its diskId");
      if (!ref)
        return Error(ErrorCode::kUnimplemented,
                     "ovf: disk " + *id + " has no file (an empty disk)");
      if (!files.count(*ref)) return Bad("disk " + *id + " refers to unknown file " + *ref);
      disks[*id] = files[*ref];
    }
  }
  return disks;
}

const char* ResourceName(uint64_t type) {
  switch (type) {
    case 1:
      return "other device";
    case 5:
      return "IDE controller";
    case 6:
      return "SCSI controller";
    case 7:
      return "Fibre Channel adapter";
    case 14:
      return "floppy drive";
    case 15:
      return "CD drive";
    case 16:
      return "DVD drive";
    case 20:
      return "SATA controller";
    case 21:
      return "serial port";
    case 22:
      return "parallel port";
    case 23:
      return "USB controller";
    case 24:
      return "graphics controller";
    case 35:
      return "sound card";
  }
  return "device";
}

Status AddItem(const XmlNode& item, const std::map<std::string, PackageFile>& disks, SourceVm& vm) {
  ASSIGN_OR_RETURN(uint64_t type, Number(item.ChildText("ResourceType"), "ResourceType"));
  const std::string label = item.ChildText("ElementName");
  switch (type) {
    case 3: {  // processors
      ASSIGN_OR_RETURN(uint64_t n, Number(item.ChildText("VirtualQuantity"), "CPU count"));
      if (n < 1 || n > 255) return Bad("CPU count " + std::to_string(n) + " out of range");
      vm.vcpus = uint32_t(n);
      return OkStatus();
    }
    case 4: {  // memory
      ASSIGN_OR_RETURN(uint64_t n, Number(item.ChildText("VirtualQuantity"), "memory size"));
      ASSIGN_OR_RETURN(uint64_t unit, Units(item.ChildText("AllocationUnits")));
      if (n > (uint64_t(1) << 50) / unit) return Bad("memory size too large");
      vm.memory_bytes = n * unit;
      return OkStatus();
    }
    case 10: {  // Ethernet
      SourceNic nic;
      nic.model = item.ChildText("ResourceSubType");
      nic.network = item.ChildText("Connection");
      std::string mac = item.ChildText("Address");
      if (auto m = NormalizeMac(mac)) {
        nic.mac = *m;
      } else {
        vm.not_carried.push_back(
            "MAC address of NIC '" + label + "' (" +
            (mac.empty() ? "none in the descriptor" : "'" + mac + "' is not valid") +
            "): a new one is needed");
      }
      vm.nics.push_back(nic);
      return OkStatus();
    }
    case 17: {  // disk
      std::string res = item.ChildText("HostResource");
      size_t slash = res.rfind('/');
      std::string id = slash == std::string::npos ? res : res.substr(slash + 1);
      auto it = disks.find(id);
      if (it == disks.end())
        return Bad("disk item '" + label + "' refers to unknown disk '" + res + "'");
      SourceDisk d;
      d.path = it->second.href;
      d.gzip = it->second.gzip;
      d.chunk_size = it->second.chunk_size;
      d.target = label;
      d.bus = "ovf";
      d.packaged = true;
      vm.disks.push_back(d);
      return OkStatus();
    }
  }
  if (type == 5 || type == 6 || type == 20) {
    vm.notes.push_back(std::string(ResourceName(type)) + " '" + label + "' becomes virtio-blk");
  } else {
    vm.not_carried.push_back(std::string(ResourceName(type)) + " '" + label + "' (ResourceType " +
                             std::to_string(type) + ")");
  }
  return OkStatus();
}

}  // namespace

Result<SourceVm> ParseOvf(const std::string& text) {
  ASSIGN_OR_RETURN(XmlDoc doc, XmlDoc::Parse(text, "ovf"));
  XmlNode envelope = doc.root();
  if (envelope.name() != "Envelope") return Bad("the root element is not an Envelope");
  ASSIGN_OR_RETURN(auto disks, DiskFiles(envelope));
  ASSIGN_OR_RETURN(XmlNode system, VirtualSystem(envelope));
  SourceVm vm;
  vm.kind = "ovf";
  vm.name = system.ChildText("Name");
  if (vm.name.empty()) vm.name = system.Attr("id").value_or("");
  if (auto os = system.Child("OperatingSystemSection")) {
    vm.guest_os = os->ChildText("Description");
    if (vm.guest_os.empty()) vm.guest_os = os->Attr("osType").value_or("");
  }
  auto hw = system.Child("VirtualHardwareSection");
  if (!hw) return Bad("no VirtualHardwareSection");
  for (const XmlNode& item : hw->Children()) {
    const std::string n = item.name();
    if (n != "Item" && n != "StorageItem" && n != "EthernetPortItem") continue;
    RETURN_IF_ERROR(AddItem(item, disks, vm));
  }
  for (const XmlNode& config : hw->Children("Config")) {
    if (config.Attr("key").value_or("") == "firmware")
      vm.firmware = config.Attr("value").value_or("");
  }
  if (vm.firmware.empty()) vm.firmware = "bios";
  if (vm.memory_bytes == 0) return Bad("no memory size");
  return vm;
}

}  // namespace ferry::image
