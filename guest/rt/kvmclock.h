// Guest time from kvmclock (pvclock), readable in ring 3 without exits. Without kvmclock
// (QEMU's TCG) the same per-CPU areas carry a TSC rate measured at boot
// (rt/tsc_calibration.h).
#pragma once

#include <stdint.h>

namespace guest::clock {

// True when the boot code registered kvmclock and the host has filled it in, or when a
// measured TSC rate was published instead.
bool available();

// Publishes "time 0 was TSC value tsc_at_zero, the TSC runs at tsc_hz" to every CPU in
// pvclock's format. Only for guests without kvmclock; the host never overwrites it.
void publish_tsc_rate(uint64_t tsc_at_zero, uint64_t tsc_hz);

// Nanoseconds of kvmclock time on the calling CPU (starts near 0 when the VM is made).
uint64_t now_ns();

inline uint64_t now_us() {
  return now_ns() / 1000;
}

}  // namespace guest::clock
