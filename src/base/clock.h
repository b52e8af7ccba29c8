#pragma once

#include <time.h>

#include <cstdint>

namespace ferry {

// CLOCK_MONOTONIC in nanoseconds: the clock every reported duration uses.
inline int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// CLOCK_REALTIME in nanoseconds: only for carrying guest time across hosts.
inline int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline double NsToMs(int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

}  // namespace ferry
