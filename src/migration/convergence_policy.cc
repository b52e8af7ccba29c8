#include "migration/convergence_policy.h"

#include <algorithm>
#include <cstdio>

namespace ferry::migration {
namespace {

constexpr double kPageBytes = 4096 + 8;  // payload plus its record
constexpr int kFirstThrottle = 20;
constexpr int kThrottleStep = 10;
constexpr int kMaxThrottle = 99;

std::string Format(const char* fmt, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

}  // namespace

const char* OnStallName(OnStall on_stall) {
  switch (on_stall) {
    case OnStall::kStopAndCopy:
      return "stop-and-copy";
    case OnStall::kAbort:
      return "abort";
    case OnStall::kThrottle:
      return "throttle";
  }
  return "?";
}

bool ParseOnStall(const std::string& text, OnStall* out) {
  for (OnStall s : {OnStall::kStopAndCopy, OnStall::kAbort, OnStall::kThrottle}) {
    if (text == OnStallName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

Decision ConvergencePolicy::Next(const RoundStats& round) {
  if (round.duration_ms > 0 && round.bytes_sent > 0) {
    double measured = static_cast<double>(round.bytes_sent) / round.duration_ms;
    // Rounds that sent little measure latency more than bandwidth: weigh by size.
    bandwidth_ = bandwidth_ == 0 ? measured : std::max(measured, 0.5 * (bandwidth_ + measured));
  }
  Decision d;
  double remaining = static_cast<double>(round.pages_dirtied) * kPageBytes;
  d.predicted_downtime_ms = (bandwidth_ > 0 ? remaining / bandwidth_ : 0) + config_.device_state_ms;
  // Another round pays while it cuts the dirty set by a quarter or more.
  bool shrinking = round.pages_dirtied * 4 <= round.pages_sent * 3 &&
                   round.pages_dirtied > config_.small_set_pages &&
                   round.round < config_.max_rounds;
  if (bandwidth_ > 0 && d.predicted_downtime_ms <= config_.downtime_ms && !shrinking) {
    d.action = Action::kSwitchover;
    d.converged = true;
    d.reason = Format("downtime target met (predicted %.1f ms <= %.0f ms)", d.predicted_downtime_ms,
                      config_.downtime_ms);
    return d;
  }
  if (round.pages_dirtied <= config_.small_set_pages) {
    d.action = Action::kSwitchover;
    d.converged = true;
    d.reason = "small final dirty set (" + std::to_string(round.pages_dirtied) + " pages)";
    return d;
  }
  if (round.round >= config_.max_rounds) {
    Decision s = Stalled("max rounds reached (" + std::to_string(config_.max_rounds) + ")", true);
    s.predicted_downtime_ms = d.predicted_downtime_ms;
    return s;
  }
  if (round.round >= 2 && round.pages_sent <= round.pages_dirtied) {
    Decision s = Stalled("not converging (round " + std::to_string(round.round) + " sent " +
                             std::to_string(round.pages_sent) + " pages, " +
                             std::to_string(round.pages_dirtied) + " were dirtied meanwhile)",
                         false);
    s.predicted_downtime_ms = d.predicted_downtime_ms;
    return s;
  }
  return d;
}

Decision ConvergencePolicy::Stalled(const std::string& why, bool at_limit) {
  Decision d;
  switch (config_.on_stall) {
    case OnStall::kStopAndCopy:
      d.action = Action::kSwitchover;
      d.reason = why + "; stop-and-copy";
      return d;
    case OnStall::kAbort:
      d.action = Action::kAbort;
      d.reason = why + "; aborted as --on-stall abort asks";
      return d;
    case OnStall::kThrottle:
      if (at_limit) {
        d.action = Action::kSwitchover;
        d.reason = why + " at throttle " + std::to_string(throttle_pct_) + "%; stop-and-copy";
        return d;
      }
      throttle_pct_ = throttle_pct_ == 0 ? kFirstThrottle
                                         : std::min(kMaxThrottle, throttle_pct_ + kThrottleStep);
      d.action = Action::kThrottle;
      d.throttle_pct = throttle_pct_;
      d.reason = why + "; throttling vCPUs to " + std::to_string(100 - throttle_pct_) + "%";
      return d;
  }
  return d;
}

}  // namespace ferry::migration
