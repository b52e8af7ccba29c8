// When does pre-copy stop iterating? A policy fed with each round's
// measurements, apart from the engine so it can be tested on recorded traces.
//
// Rules, each visible in the report as the reason for the decision:
//  1. downtime target: the predicted downtime (bytes still dirty / measured
//     bandwidth + device state time) fits --downtime-ms -> switch over, unless
//     the last round cut the dirty set by a quarter or more: then one more
//     (shorter) round costs little total time and cuts the downtime further;
//  2. small final set: at most `small_set_pages` dirty pages -> switch over;
//  3. max rounds: --max-rounds iterations done -> stalled;
//  4. non-convergence: a round sent no more pages than were dirtied while it
//     ran, so iterating does not shrink the dirty set -> stalled.
// A stalled migration does what --on-stall says: stop-and-copy (switch over
// anyway), abort (the guest keeps running at the source), or throttle (slow the
// vCPUs: 20 %, then +10 % per stalled round up to 99 %, as QEMU's
// auto-converge; at max rounds it switches over).
#pragma once

#include <cstdint>
#include <string>

namespace ferry::migration {

enum class OnStall { kStopAndCopy, kAbort, kThrottle };

const char* OnStallName(OnStall on_stall);
bool ParseOnStall(const std::string& text, OnStall* out);

struct PolicyConfig {
  double downtime_ms = 300;
  int max_rounds = 30;
  OnStall on_stall = OnStall::kStopAndCopy;
  uint64_t small_set_pages = 64;
  double device_state_ms = 2;  // time to move vCPU and device state at switchover
};

struct RoundStats {
  int round = 0;            // 1-based
  uint64_t pages_sent = 0;  // pages this round sent
  uint64_t bytes_sent = 0;
  double duration_ms = 0;
  uint64_t pages_dirtied = 0;  // pages found dirty after the round: the next round's work
};

enum class Action { kContinue, kSwitchover, kThrottle, kAbort };

struct Decision {
  Action action = Action::kContinue;
  std::string reason;    // why (empty while iterating normally)
  int throttle_pct = 0;  // for kThrottle: the new throttle
  double predicted_downtime_ms = 0;
  bool converged = false;  // switchover because the target was met
};

class ConvergencePolicy {
 public:
  explicit ConvergencePolicy(PolicyConfig config) : config_(config) {}

  // After each round: what next.
  Decision Next(const RoundStats& round);

  // Bytes per millisecond, smoothed over the rounds so far.
  double bandwidth() const { return bandwidth_; }
  int throttle_pct() const { return throttle_pct_; }

 private:
  Decision Stalled(const std::string& why, bool at_limit);

  PolicyConfig config_;
  double bandwidth_ = 0;
  int throttle_pct_ = 0;
};

}  // namespace ferry::migration
