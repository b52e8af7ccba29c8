// The disks of a VM on their way out of ferry (ferry export): every source
// is opened first, so that a missing one is refused before anything is
// written; with fix-ups each is copied to a raw staging file, the guest is
// fixed up there for the target's bus, and the staging file is converted to
// the target's format (the sources are only read); without, each source is
// converted directly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "image/export_vm.h"
#include "image/guest_fixup.h"
#include "image/image.h"

namespace ferry::image {

struct DiskSource {
  std::string path;
  std::string format;  // as vm.json records it: "raw", "qcow2", ...
};

struct DiskTarget {
  Format format = Format::kQcow2;
  std::string extension;  // ".vmdk"
  CreateOptions create;   // VMDK subformat and adapter
  DiskNaming naming = DiskNaming::kVirtio;
};

struct ExportedDisks {
  std::vector<ExportDisk> disks;     // file, capacity, file size
  std::optional<FixupReport> fixup;  // nullopt: fix-ups not asked for
};

// Writes `out_dir/BASE-diskN.EXT`; raw staging files go to `work_dir`.
Result<ExportedDisks> ExportDisks(const std::vector<DiskSource>& sources, const DiskTarget& target,
                                  const std::string& base, const std::string& out_dir,
                                  const std::string& work_dir, bool fixup, bool progress);

}  // namespace ferry::image
