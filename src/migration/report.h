// The numbers every migration reports (DESIGN.md, "The numbers we report");
// docs/migrate.md documents each field of the JSON form.
#pragma once

#include <cstdint>
#include <string>

#include "base/json.h"

namespace ferry::migration {

struct MigrationReport {
  std::string status = "completed";  // completed | failed
  std::string mode = "offline";
  std::string destination;
  double total_ms = 0;                       // request received -> source released the VM
  double setup_ms = 0;                       // request -> destination accepted (before the pause)
  double downtime_ms = 0;                    // source vCPUs stopped -> destination vCPUs running
  std::string downtime_clock = "same-host";  // or "offset-corrected"
  double clock_offset_ms = 0;
  double transfer_ms = 0;  // pause -> last byte of state sent
  uint64_t bytes_sent = 0;
  uint64_t pages_normal = 0;
  uint64_t pages_zero = 0;  // not sent: the destination's fresh memory is zero already

  Json ToJson() const;
  std::string ToText() const;
};

}  // namespace ferry::migration
