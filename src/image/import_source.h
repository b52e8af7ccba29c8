// Reads what `ferry import` is given (a VMX, an OVA, an OVF, a libvirt
// domain XML, a Xen xl or Proxmox VE configuration) into a SourceVm whose disks are files ready to
// open: OVA members are copied into the staging directory, every file an OVA/OVF manifest lists is
// verified first.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "image/vm_source.h"

namespace ferry::image {

struct ImportSource {
  SourceVm vm;
  std::vector<std::string> scratch;  // extracted files to remove once converted
};

// Host-side hints for sources that name storage by name (Proxmox VE).
struct ImportOptions {
  std::string storage_cfg;                          // empty: beside the config, then /etc/pve
  std::map<std::string, std::string> storage_dirs;  // --storage NAME=DIR
};

Result<ImportSource> LoadImportSource(const std::string& path, const std::string& staging_dir,
                                      const ImportOptions& options = {});

}  // namespace ferry::image
