// Samples of devstate's two counters, each bracketed by kvmclock reads
// (devstate_counter.h), and the calibration of the LAPIC timer against kvmclock.
#pragma once

#include <stdint.h>

#include "workloads/devstate_counter.h"

namespace guest::devstate {

// The calling CPU's LAPIC timer current count.
Sample lapic_sample();
// PIT channel 0's count (CPU 0 only).
Sample pit_sample();

struct Calibration {
  uint64_t hz;  // 0 when the count did not move or the rate was not steady
  bool moved;   // false: the count stood still
  uint32_t counts[3];
};

// The LAPIC timer's ticks per second over two 100 ms windows in a row, which must agree
// so that a pause during one of them does not skew the result. Takes a few tries.
Calibration calibrate_lapic();

}  // namespace guest::devstate
