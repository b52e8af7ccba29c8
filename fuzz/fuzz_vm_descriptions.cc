// The foreign VM descriptions ferry import reads: the first input byte picks
// the parser (VMX, OVF, libvirt domain XML, OVA manifest, Xen xl
// configuration, Proxmox storage.cfg and VM configuration, QEMU command
// line), the rest is the text.
#include <string>

#include "image/ova.h"
#include "image/vm_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::image;
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 8) {
    case 0:
      (void)ParseVmx(text, "/nonexistent");
      break;
    case 1:
      (void)ParseOvf(text);
      break;
    case 2:
      (void)ParseLibvirtDomain(text, "/nonexistent");
      break;
    case 3:
      (void)ParseManifest(text);
      break;
    case 4:
      (void)ParseXlConfig(text, "/nonexistent");
      (void)LooksLikeXlConfig(text);
      break;
    case 5:
      (void)ParseProxmoxStorageCfg(text);
      break;
    case 6:
      (void)ParseProxmoxConfig(text, {}, {});
      (void)LooksLikeProxmoxConfig(text);
      break;
    case 7:
      (void)ParseQemuCommandLine(text, "/nonexistent");
      (void)LooksLikeQemuCommandLine(text);
      break;
  }
  return 0;
}
