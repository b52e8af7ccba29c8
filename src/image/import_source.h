// Reads what `ferry import` is given (a VMX, an OVA, an OVF, a libvirt
// domain XML) into a SourceVm whose disks are files ready to open: OVA
// members are copied into the staging directory, every file an OVA/OVF
// manifest lists is verified first.
#pragma once

#include <string>
#include <vector>

#include "image/vm_source.h"

namespace ferry::image {

struct ImportSource {
  SourceVm vm;
  std::vector<std::string> scratch;  // extracted files to remove once converted
};

Result<ImportSource> LoadImportSource(const std::string& path, const std::string& staging_dir);

}  // namespace ferry::image
