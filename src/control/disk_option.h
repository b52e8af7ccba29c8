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

}  // namespace ferry
