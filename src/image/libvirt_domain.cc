// libvirt domain XML (https://libvirt.org/formatdomain.html): name, memory
// (with its unit), vcpu, os/type and loader, and the devices: disks with
// their source file and format, interfaces with their MAC address; every
// other device is reported as not carried over.
#include "image/file.h"
#include "image/vm_source.h"
#include "image/xml_doc.h"

namespace ferry::image {
namespace {

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "libvirt domain: " + what);
}

Result<uint64_t> Number(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 15 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Bad(what + " '" + text + "' is not a number");
  }
  return std::stoull(text);
}

// libvirt's scaled integers: the unit attribute, KiB by default.
Result<uint64_t> Memory(const XmlNode& node) {
  ASSIGN_OR_RETURN(uint64_t n, Number(node.Text(), "memory"));
  std::string unit = node.Attr("unit").value_or("KiB");
  uint64_t scale;
  if (unit == "b" || unit == "bytes") {
    scale = 1;
  } else if (unit == "k" || unit == "KiB") {
    scale = uint64_t(1) << 10;
  } else if (unit == "KB") {
    scale = 1000;
  } else if (unit == "M" || unit == "MiB") {
    scale = uint64_t(1) << 20;
  } else if (unit == "MB") {
    scale = 1000 * 1000;
  } else if (unit == "G" || unit == "GiB") {
    scale = uint64_t(1) << 30;
  } else if (unit == "GB") {
    scale = 1000ull * 1000 * 1000;
  } else if (unit == "T" || unit == "TiB") {
    scale = uint64_t(1) << 40;
  } else {
    return Bad("memory unit '" + unit + "' is not understood");
  }
  if (n > (uint64_t(1) << 50) / scale) return Bad("memory size too large");
  return n * scale;
}

Status AddDisk(const XmlNode& disk, const std::string& dir, SourceVm& vm) {
  const std::string device = disk.Attr("device").value_or("disk");
  const std::string type = disk.Attr("type").value_or("file");
  auto target = disk.Child("target");
  std::string dev = target ? target->Attr("dev").value_or("") : "";
  if (device != "disk") {
    vm.not_carried.push_back(device + " " + dev);
    return OkStatus();
  }
  auto source = disk.Child("source");
  std::string path;
  if (source && type == "file") path = source->Attr("file").value_or("");
  if (source && type == "block") path = source->Attr("dev").value_or("");
  if (path.empty()) {
    return Error(ErrorCode::kUnimplemented,
                 "libvirt domain: disk " + dev + " of type '" + type +
                     "' has no local file or device (network disks are not supported)");
  }
  SourceDisk d;
  d.path = ResolveRelative(dir + "/x", path);
  if (auto driver = disk.Child("driver")) {
    if (auto fmt = driver->Attr("type")) {
      Result<Format> f = ParseFormat(*fmt);
      if (!f.ok()) return Bad("disk " + dev + ": " + f.error().message());
      d.format = *f;
    }
  }
  d.bus = target ? target->Attr("bus").value_or("") : "";
  d.target = dev;
  vm.disks.push_back(d);
  return OkStatus();
}

void AddInterface(const XmlNode& nic, SourceVm& vm) {
  SourceNic n;
  if (auto model = nic.Child("model")) n.model = model->Attr("type").value_or("");
  if (auto source = nic.Child("source")) {
    n.network = source->Attr("network").value_or(source->Attr("bridge").value_or(""));
  }
  std::string mac = nic.Child("mac") ? nic.Child("mac")->Attr("address").value_or("") : "";
  if (auto m = NormalizeMac(mac)) {
    n.mac = *m;
  } else {
    vm.not_carried.push_back("MAC address of interface " + std::to_string(vm.nics.size()) + " (" +
                             (mac.empty() ? "none given" : "'" + mac + "' is not valid") +
                             "): a new one is needed");
  }
  vm.nics.push_back(n);
}

}  // namespace

Result<SourceVm> ParseLibvirtDomain(const std::string& text, const std::string& dir) {
  ASSIGN_OR_RETURN(XmlDoc doc, XmlDoc::Parse(text, "libvirt domain"));
  XmlNode domain = doc.root();
  if (domain.name() != "domain") return Bad("the root element is not <domain>");
  SourceVm vm;
  vm.kind = "libvirt";
  vm.name = domain.ChildText("name");
  auto memory = domain.Child("memory");
  if (!memory) return Bad("no <memory>");
  ASSIGN_OR_RETURN(vm.memory_bytes, Memory(*memory));
  if (auto vcpu = domain.Child("vcpu")) {
    ASSIGN_OR_RETURN(uint64_t n, Number(vcpu->Text(), "vcpu"));
    if (n < 1 || n > 255) return Bad("vcpu " + std::to_string(n) + " out of range");
    vm.vcpus = uint32_t(n);
  }
  vm.firmware = "bios";
  if (auto os = domain.Child("os")) {
    std::string type = os->ChildText("type");
    if (os->Attr("firmware").value_or("") == "efi" || os->Child("loader")) vm.firmware = "efi";
    if (type == "linux" || type == "xen") {
      vm.notes.push_back("Xen paravirtual guest (os type '" + type +
                         "'): it needs a kernel with virtio drivers to boot under KVM");
    }
  }
  if (auto devices = domain.Child("devices")) {
    for (const XmlNode& dev : devices->Children()) {
      const std::string n = dev.name();
      if (n == "disk") {
        RETURN_IF_ERROR(AddDisk(dev, dir, vm));
      } else if (n == "interface") {
        AddInterface(dev, vm);
      } else if (n == "emulator" || n == "controller" || n == "memballoon" || n == "input") {
        continue;  // implied by the machine ferry builds
      } else {
        std::string type = dev.Attr("type").value_or(dev.Attr("model").value_or(""));
        vm.not_carried.push_back("device <" + n + (type.empty() ? "" : " type='" + type + "'") +
                                 ">");
      }
    }
  }
  return vm;
}

}  // namespace ferry::image
