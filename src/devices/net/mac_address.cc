#include "devices/net/mac_address.h"

#include <sys/random.h>

#include <cstdio>

namespace ferry {

Result<MacAddress> ParseMac(const std::string& text) {
  MacAddress mac{};
  unsigned parts[6];
  char tail;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &parts[0], &parts[1], &parts[2],
                  &parts[3], &parts[4], &parts[5], &tail) != 6 ||
      text.size() != 17) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + text + "' is not a MAC address (expected six hex pairs, 52:54:00:12:34:56)");
  }
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(parts[i]);
  if (mac[0] & 1) {
    return Error(ErrorCode::kInvalidArgument,
                 "MAC address " + text + " is a multicast address; a NIC needs a unicast one");
  }
  return mac;
}

std::string FormatMac(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

MacAddress RandomLocalMac() {
  MacAddress mac = {0x52, 0x54, 0x00, 0, 0, 0};
  while (::getrandom(mac.data() + 3, 3, 0) != 3) {
  }
  return mac;
}

}  // namespace ferry
