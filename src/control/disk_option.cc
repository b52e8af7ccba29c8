#include "control/disk_option.h"

namespace ferry {

Result<DiskSpec> ParseDiskOption(const std::string& value) {
  DiskSpec spec;
  size_t comma = value.find(',');
  spec.path = value.substr(0, comma);
  if (spec.path.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--disk '" + value + "': give a PATH first");
  }
  while (comma != std::string::npos) {
    size_t next = value.find(',', comma + 1);
    std::string item = value.substr(comma + 1, next == std::string::npos ? next : next - comma - 1);
    if (item == "readonly" || item == "ro") {
      spec.read_only = true;
    } else if (item.rfind("serial=", 0) == 0 && item.size() > 7 && item.size() <= 7 + 20) {
      spec.serial = item.substr(7);
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   "--disk '" + value + "': unknown setting '" + item +
                       "' (PATH[,readonly][,serial=ID of 1-20 bytes])");
    }
    comma = next;
  }
  return spec;
}

Result<std::vector<DiskSpec>> ParseDiskOptions(const std::vector<std::string>& values) {
  std::vector<DiskSpec> specs;
  for (const std::string& value : values) {
    ASSIGN_OR_RETURN(DiskSpec spec, ParseDiskOption(value));
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace ferry
