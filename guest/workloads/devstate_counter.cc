#include "workloads/devstate_counter.h"

namespace guest::devstate {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

// ns * hz * ppm_factor / 10^15 without overflow: ticks in ns at hz, scaled by
// ppm_factor millionths.
uint64_t ticks(uint64_t ns, uint64_t hz, uint64_t ppm_factor) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ns) * hz * ppm_factor /
                               (static_cast<unsigned __int128>(kNsPerSecond) * 1'000'000));
}

uint64_t midpoint(const Sample& s) {
  return s.t0_ns + (s.t1_ns - s.t0_ns) / 2;
}

}  // namespace

Judgement CounterTrack::next(const Sample& s) {
  // Saturating: the caller lets kvmclock step back by a little jitter.
  uint64_t shortest = s.t0_ns > last_.t1_ns ? s.t0_ns - last_.t1_ns : 0;
  uint64_t longest = s.t1_ns > last_.t0_ns ? s.t1_ns - last_.t0_ns : 0;
  uint64_t lo = ticks(shortest, hz_, 1'000'000 - kTolerancePpm);
  lo = lo > kSlackTicks ? lo - kSlackTicks : 0;
  uint64_t hi = ticks(longest, hz_, 1'000'000 + kTolerancePpm) + kSlackTicks;
  // A down-counter: what it moved is how far the count fell, modulo the period.
  uint64_t moved = (static_cast<uint64_t>(last_.count) + period_ - s.count) % period_;
  uint64_t elapsed = midpoint(s) > midpoint(last_) ? midpoint(s) - midpoint(last_) : 0;
  Judgement j{Verdict::kTight, lo, hi, moved, elapsed};
  last_ = s;

  uint64_t limit = tell_direction_ ? period_ / 2 : period_;
  if (hi >= limit) {
    j.verdict = Verdict::kUnknown;
  } else if (moved >= lo && moved <= hi) {
    ++tight_;
    tight_ticks_ += moved;
    tight_ns_ += j.elapsed;
  } else if (tell_direction_ && moved > period_ / 2) {
    j.verdict = Verdict::kBackwards;
  } else if (jumped_ && s.t1_ns < last_jump_ns_ + kJumpSpacingNs) {
    j.verdict = Verdict::kJumpAgain;
  } else {
    j.verdict = Verdict::kJump;
    ++jumps_;
    jumped_ = true;
    last_jump_ns_ = s.t1_ns;
  }
  return j;
}

uint64_t CounterTrack::measured_hz() const {
  if (tight_ns_ == 0) return 0;
  return static_cast<uint64_t>(static_cast<unsigned __int128>(tight_ticks_) * kNsPerSecond /
                               tight_ns_);
}

uint64_t calibrate_hz(const Sample& a, const Sample& b) {
  uint64_t ns = midpoint(b) - midpoint(a);
  if (ns == 0 || b.count >= a.count) return 0;
  return static_cast<uint64_t>(static_cast<unsigned __int128>(a.count - b.count) * kNsPerSecond /
                               ns);
}

}  // namespace guest::devstate
