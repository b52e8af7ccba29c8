#include "control/net_option.h"

#include <net/if.h>

namespace ferry {
namespace {

Error Bad(const std::string& value, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "--net '" + value + "': " + what);
}

}  // namespace

Result<NetSpec> ParseNetOption(const std::string& value) {
  NetSpec spec;
  size_t start = 0;
  for (;;) {
    size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? comma : comma - start);
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string setting = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "tap" && eq != std::string::npos && !spec.tap.empty()) {
      return Bad(value, "tap= given twice");
    } else if (key == "tap" && eq != std::string::npos) {
      if (setting.empty()) return Bad(value, "tap= needs an interface name");
      spec.tap = setting;
    } else if (key == "mac" && eq != std::string::npos) {
      Result<MacAddress> mac = ParseMac(setting);
      if (!mac.ok()) return Bad(value, mac.error().message());
      spec.mac = *mac;
    } else {
      return Bad(value, "unknown setting '" + item + "' (tap=NAME[,mac=MAC])");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (spec.tap.empty()) return Bad(value, "give tap=NAME");
  if (spec.tap.size() >= IFNAMSIZ) {
    return Bad(value, "TAP name '" + spec.tap + "' must be 1 to " + std::to_string(IFNAMSIZ - 1) +
                          " characters");
  }
  return spec;
}

Result<std::vector<NetSpec>> ParseNetOptions(const std::vector<std::string>& values) {
  std::vector<NetSpec> specs;
  for (const std::string& value : values) {
    ASSIGN_OR_RETURN(NetSpec spec, ParseNetOption(value));
    for (const NetSpec& other : specs) {
      if (other.tap == spec.tap) {
        return Error(ErrorCode::kInvalidArgument,
                     "--net tap=" + spec.tap + " given twice: one TAP serves one NIC");
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace ferry
