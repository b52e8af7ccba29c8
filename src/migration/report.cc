#include "migration/report.h"

#include <cstdio>

namespace ferry::migration {

Json MigrationReport::ToJson() const {
  Json j = Json::MakeObject();
  j.Set("status", status);
  j.Set("mode", mode);
  j.Set("destination", destination);
  j.Set("total_ms", total_ms);
  j.Set("setup_ms", setup_ms);
  j.Set("downtime_ms", downtime_ms);
  j.Set("downtime_clock", downtime_clock);
  j.Set("clock_offset_ms", clock_offset_ms);
  j.Set("transfer_ms", transfer_ms);
  j.Set("bytes_sent", bytes_sent);
  j.Set("pages_normal", pages_normal);
  j.Set("pages_zero", pages_zero);
  return j;
}

std::string MigrationReport::ToText() const {
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "migration %s (%s) to %s\n"
                "  total      %9.1f ms\n"
                "  setup      %9.1f ms\n"
                "  downtime   %9.1f ms (%s clocks)\n"
                "  transfer   %9.1f ms\n"
                "  sent       %9.1f MiB (%llu bytes)\n"
                "  pages      %llu normal, %llu zero (elided)\n",
                status.c_str(), mode.c_str(), destination.c_str(), total_ms, setup_ms, downtime_ms,
                downtime_clock.c_str(), transfer_ms, static_cast<double>(bytes_sent) / (1 << 20),
                static_cast<unsigned long long>(bytes_sent),
                static_cast<unsigned long long>(pages_normal),
                static_cast<unsigned long long>(pages_zero));
  return buf;
}

}  // namespace ferry::migration
