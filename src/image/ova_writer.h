// Packs an OVA: a ustar archive holding, in the order the OVF spec requires,
// the descriptor, the manifest (a "SHA256(NAME)= hex" line for every other
// member) and the disk files.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace ferry::image {

struct OvaFile {
  std::string name;  // member name
  std::string path;  // where the file is now
};

// Writes the package to `path` (which must not exist). The manifest is
// named after the descriptor: NAME.ovf -> NAME.mf.
Status WriteOva(const std::string& path, const std::string& ovf_name, const std::string& ovf_text,
                const std::vector<OvaFile>& disks);

// The manifest line for one member.
std::string ManifestLine(const std::string& name, const std::string& sha256_hex);

}  // namespace ferry::image
