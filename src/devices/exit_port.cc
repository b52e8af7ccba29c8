#include "devices/exit_port.h"

#include <cstring>

namespace ferry {

void ExitPort::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0 || data.empty()) return;
  uint32_t status = 0;
  std::memcpy(&status, data.data(), std::min<size_t>(data.size(), sizeof status));
  on_exit_(status);
}

}  // namespace ferry
