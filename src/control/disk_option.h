// `--disk PATH[,readonly][,serial=ID]`, repeatable; the order is the guest's
// PCI slot order (docs/run.md).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "devices/block/raw_disk.h"

namespace ferry {

Result<DiskSpec> ParseDiskOption(const std::string& value);
Result<std::vector<DiskSpec>> ParseDiskOptions(const std::vector<std::string>& values);
// A block-migration copy that never finished (IMAGE.ferry-partial beside it)
// must not boot: its contents are a mix of old and new.
Status RefuseUnfinishedCopies(const std::vector<DiskSpec>& disks);
// Files whose header is another image format's (qcow2, VMDK, VHDX, dynamic
// VHD) are refused unless the spec says `format=raw`.
Status RefuseImageFormats(const std::vector<DiskSpec>& disks);
// Opens each disk as the VM would (without locking it), so that a missing,
// empty or misshapen image is reported before any VM is made.
Status CheckDisksOpen(const std::vector<DiskSpec>& disks);

}  // namespace ferry
