// Guest time from kvmclock (pvclock), readable in ring 3 without exits.
#pragma once

#include <stdint.h>

namespace guest::clock {

// True when the boot code registered kvmclock and the host has filled it in.
bool available();

// Nanoseconds of kvmclock time on the calling CPU (starts near 0 when the VM is made).
uint64_t now_ns();

inline uint64_t now_us() {
  return now_ns() / 1000;
}

}  // namespace guest::clock
