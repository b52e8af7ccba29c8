// The numbers every migration reports (DESIGN.md, "The numbers we report");
// docs/migrate.md documents each field of the JSON form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/json.h"

namespace ferry::migration {

struct RoundReport {
  uint64_t pages_sent = 0;
  uint64_t pages_dirtied = 0;  // dirty when the round ended: the next round's work
  double duration_ms = 0;
  double mib_per_s = 0;
  double collect_ms = 0;  // harvesting and re-arming the dirty pages at the round's end
};

// Where the downtime went, in order (pre-copy).
struct SwitchoverPhases {
  double pause_ms = 0;       // stopping the vCPUs
  double last_pages_ms = 0;  // collecting and sending the last dirty pages
  double devices_ms = 0;     // capturing and sending vCPU and device state
  double load_ms = 0;        // until the destination said it has loaded everything
  double handover_ms = 0;    // go -> running
  double start_ms = 0;       // go sent -> the destination's vCPUs running (its timestamp)
};

// One disk of the VM (shared storage or block migration).
struct DiskReport {
  std::string path;
  std::string mode;  // shared | copy
  uint64_t size_bytes = 0;
  uint64_t chunks_data = 0;     // chunks sent with their data
  uint64_t chunks_zero = 0;     // zero chunks: records, or elided when the target starts zeroed
  uint64_t chunks_resumed = 0;  // already at the destination from an interrupted attempt
  uint64_t dirty_chunks = 0;    // chunks resent because the guest wrote them during the copy
  uint64_t final_chunks = 0;    // of those, sent while the guest was paused
  uint64_t bytes_sent = 0;      // chunk data
  double bulk_ms = 0;
  bool resumed = false;
};

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
  uint64_t pages_zero = 0;          // zero pages: elided in the first pass, zero records later
  std::vector<RoundReport> rounds;  // pre-copy iterations (the last is the paused one)
  int throttle_pct = 0;             // the highest vCPU throttle applied
  bool converged = true;            // the downtime target or a small final set was reached
  std::string reason;               // why iteration stopped
  double downtime_target_ms = 0;
  double predicted_downtime_ms = 0;
  // Before the pause, guest running: until the destination had taken in
  // everything sent (0 with a receiver that cannot say so).
  double drain_ms = 0;
  SwitchoverPhases switchover;
  std::vector<DiskReport> disks;
  std::string dirty_tracking;    // "log" or "ring" (pre-copy)
  uint64_t ring_full_exits = 0;  // vCPU exits on a full dirty ring during the migration

  Json ToJson() const;
  // The inverse of ToJson, for the CLI that gets the report from the VMM as
  // JSON. Lenient: what is missing or of the wrong type (a VMM of another
  // version) keeps its default.
  static MigrationReport FromJson(const Json& json);
  // The human form (`ferry migrate` without --json).
  std::string ToText() const;
};

}  // namespace ferry::migration
