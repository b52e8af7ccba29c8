// `--net tap=NAME[,mac=MAC]`, repeatable; NICs follow the disks in PCI slot
// order, in the order given (docs/run.md).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "devices/virtio/net.h"

namespace ferry {

Result<NetSpec> ParseNetOption(const std::string& value);
// Also refuses one TAP named twice (the second open would fail as busy).
Result<std::vector<NetSpec>> ParseNetOptions(const std::vector<std::string>& values);

}  // namespace ferry
