// Whether a periodic down-counter (the LAPIC timer's current count, the PIT's counter)
// moves on at its rate, judged against kvmclock between consecutive samples.
//
// Each sample brackets the read that fixed the count with two kvmclock reads, so the
// time between two samples is known to lie in [t0' - t1, t1' - t0]; the ticks the
// counter must have moved lie in that range times its rate, give or take kTolerancePpm
// and kSlackTicks. The move itself is only known modulo the counter's period.
//
// An interval is
//   tight     the move is in the range: the counter ran at its rate;
//   unknown   the range is too wide to say (a gap longer than the period, or half the
//             period for counters that tell backwards from forwards): nothing is judged;
//   a jump    the move is out of range. Across a pause that is allowed once: KVM's
//             timers run on host time while a VM is paused, on restore the LAPIC timer
//             resumes from its saved count and the PIT starts its period over, and a
//             VMM may or may not advance kvmclock over either, so a counter's phase
//             after a pause is not predictable. A jump within
//             kJumpSpacingNs of the previous one fails (a counter that stopped, runs
//             at the wrong rate or wraps at the wrong count jumps again at once);
//   backwards (only with tell_direction) the move is more than half the period: the
//             counter was set back, e.g. restarted from its initial count. Fails.
#pragma once

#include <stdint.h>

namespace guest::devstate {

struct Sample {
  uint64_t t0_ns;  // kvmclock just before the read (or latch) that fixed the count
  uint64_t t1_ns;  // and just after it
  uint32_t count;
};

enum class Verdict { kTight, kUnknown, kJump, kJumpAgain, kBackwards };

struct Judgement {
  Verdict verdict;
  uint64_t lo, hi;   // ticks the counter should have moved (kTight/kJump*/kBackwards)
  uint64_t moved;    // ticks it moved, modulo its period
  uint64_t elapsed;  // kvmclock ns between the samples' midpoints
};

class CounterTrack {
 public:
  static constexpr uint64_t kTolerancePpm = 2000;
  static constexpr uint64_t kSlackTicks = 2;
  // Longer than the PIT's 50 ms period (a wrong reload jumps at every wrap), short enough
  // that two pauses in a row are unlikely to fall within it.
  static constexpr uint64_t kJumpSpacingNs = 250'000'000;

  // period: the counter's modulus (it wraps after this many ticks); hz: ticks per second.
  CounterTrack(uint64_t period, uint64_t hz, bool tell_direction)
      : period_(period), hz_(hz), tell_direction_(tell_direction) {}

  void start(const Sample& first) { last_ = first; }
  // Judges the interval from the previous sample to s; s becomes the previous one.
  Judgement next(const Sample& s);

  uint32_t last_count() const { return last_.count; }
  uint64_t tight() const { return tight_; }
  uint64_t jumps() const { return jumps_; }
  // The rate measured over all tight intervals (0 before there is one).
  uint64_t measured_hz() const;

 private:
  uint64_t period_;
  uint64_t hz_;
  bool tell_direction_;
  Sample last_{};
  uint64_t tight_ = 0;
  uint64_t jumps_ = 0;
  uint64_t last_jump_ns_ = 0;
  bool jumped_ = false;
  uint64_t tight_ticks_ = 0;
  uint64_t tight_ns_ = 0;
};

// Ticks per second from two samples of a down-counter that did not wrap in between.
uint64_t calibrate_hz(const Sample& a, const Sample& b);

}  // namespace guest::devstate
