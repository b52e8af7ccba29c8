// Live migration by pre-copy. The guest runs while memory is copied in
// rounds: round 1 sends every non-zero page, each later round the pages the
// previous one saw dirtied. The ConvergencePolicy decides after every round
// whether to go on, throttle, give up, or switch over: pause, send the last
// dirty pages and the device state, hand over (as offline_sender.h describes).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "migration/convergence_policy.h"
#include "migration/migratable.h"
#include "migration/report.h"

namespace ferry::migration {

struct Progress {
  int round = 0;
  uint64_t bytes_sent = 0;
  uint64_t pages_left = 0;       // in this round
  uint64_t disk_bytes_left = 0;  // block migration: the bulk copy's rest and the writes since
  double mib_per_s = 0;
  int throttle_pct = 0;
};

struct PrecopyOptions {
  PolicyConfig policy;
  uint64_t bandwidth = 0;     // bytes per second; 0: as fast as the link goes
  bool copy_storage = false;  // block migration: disks travel too (else shared storage)
  const std::atomic<bool>* cancel = nullptr;
  // A destination that neither answers nor takes data for this long fails
  // the migration (the guest goes on here).
  int peer_timeout_ms = 60'000;
  std::function<void(const Progress&)> on_progress;  // called every ~100 ms
};

// On error, *committed says whether the VM was left to the destination (true)
// or resumed here (false).
Result<MigrationReport> SendPrecopy(MigratableVm& vm, int fd, const std::string& destination,
                                    int64_t started_ns, const PrecopyOptions& options,
                                    bool* committed);

}  // namespace ferry::migration
