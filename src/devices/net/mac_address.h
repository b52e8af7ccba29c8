// An Ethernet MAC address: parsed from `52:54:00:12:34:56`, or generated
// once per VM (locally administered, unicast) and then carried in the VM's
// state, so the guest keeps its address wherever it moves.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/result.h"

namespace ferry {

using MacAddress = std::array<uint8_t, 6>;

Result<MacAddress> ParseMac(const std::string& text);
std::string FormatMac(const MacAddress& mac);
// 52:54:00 (the prefix QEMU and libvirt use for local guests) and three random bytes.
MacAddress RandomLocalMac();

}  // namespace ferry
