// A Xen xl domain configuration (xl.cfg(5)) for the machine ferry ran: an
// HVM guest (the Linux guests ferry moves have Xen's PV drivers, so their
// disks appear as /dev/xvdX), raw disks given with absolute paths in the
// key=value disk syntax, vifs on the conventional bridge xenbr0.
#include "image/export_vm.h"

namespace ferry::image {
namespace {

// xl strings are single-quoted here; a quote or backslash in a value is
// escaped as xl's parser expects.
std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string XlText(const ExportVm& vm) {
  std::string out = "# written by ferry export\n";
  out += "name = " + Quote(vm.name) + "\n";
  out += "type = 'hvm'\n";
  if (vm.firmware == "efi") out += "bios = 'ovmf'\n";
  out += "memory = " + std::to_string(vm.memory_mib) + "\n";
  out += "vcpus = " + std::to_string(vm.vcpus) + "\n";
  out += "disk = [\n";
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    // target= last: xl takes the rest of the spec as the path.
    out += "  'format=raw, vdev=xvd" + DiskLetters(i) + ", access=rw, target=" + vm.disks[i].path +
           "',\n";
  }
  out += "]\n";
  out += "vif = [\n";
  for (const ExportNic& nic : vm.nics) {
    out += "  '" + (nic.mac.empty() ? std::string() : "mac=" + nic.mac + ", ") +
           "bridge=xenbr0, type=vif',\n";
  }
  return out + "]\n";
}

}  // namespace ferry::image
