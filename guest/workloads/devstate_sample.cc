#include "workloads/devstate_sample.h"

#include "rt/kvmclock.h"
#include "rt/x86.h"
#include "workloads/devstate_chips.h"

namespace guest::devstate {
namespace {

constexpr uint64_t kCalibrateNs = 100'000'000;  // each of the two windows
constexpr uint64_t kCalibrateAgreePpm = 1000;
constexpr int kCalibrateTries = 10;

// A sample whose kvmclock bracket is wider than this was probably preempted by the host:
// read again (a few times), so that the interval bounds stay tight. A PIT access is a
// port exit, and a full exit to userspace when QEMU emulates the PIT.
constexpr uint64_t kMaxLapicBracketNs = 50'000;
constexpr uint64_t kMaxPitBracketNs = 200'000;
constexpr int kSampleTries = 4;

}  // namespace

Sample lapic_sample() {
  Sample s{};
  for (int i = 0; i < kSampleTries; ++i) {
    s.t0_ns = clock::now_ns();
    s.count = lapic_current_count();
    s.t1_ns = clock::now_ns();
    if (s.t1_ns - s.t0_ns <= kMaxLapicBracketNs) break;
  }
  return s;
}

Sample pit_sample() {
  Sample s{};
  for (int i = 0; i < kSampleTries; ++i) {
    s.t0_ns = clock::now_ns();
    pit_latch();  // fixes the count; reading it needs no bracket
    s.t1_ns = clock::now_ns();
    s.count = pit_read_latched();
    if (s.t1_ns - s.t0_ns <= kMaxPitBracketNs) break;
  }
  return s;
}

Calibration calibrate_lapic() {
  Calibration c{};
  for (int attempt = 0; attempt < kCalibrateTries; ++attempt) {
    Sample s[3];
    for (int i = 0; i < 3; ++i) {
      if (i > 0) {
        uint64_t until = s[i - 1].t1_ns + kCalibrateNs;
        while (clock::now_ns() < until) x86::pause();
      }
      s[i] = lapic_sample();
      c.counts[i] = s[i].count;
    }
    uint64_t a = calibrate_hz(s[0], s[1]);
    uint64_t b = calibrate_hz(s[1], s[2]);
    c.moved = a != 0 && b != 0;
    if (!c.moved) return c;
    // They may differ by kCalibrateAgreePpm plus what the brackets leave open (a busy
    // host widens them).
    uint64_t open_ns = 0;
    for (const Sample& x : s) open_ns += x.t1_ns - x.t0_ns;
    uint64_t allowed_ppm = kCalibrateAgreePpm + open_ns * 1'000'000 / kCalibrateNs;
    uint64_t diff = a > b ? a - b : b - a;
    if (diff * 1'000'000 <= a * allowed_ppm) {
      c.hz = (a + b) / 2;
      return c;
    }
  }
  return c;
}

}  // namespace guest::devstate
