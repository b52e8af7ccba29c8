// Caps a sender at a number of bytes per second (--bandwidth) by sleeping
// whenever it is ahead of schedule.
#pragma once

#include <cstdint>

namespace ferry::migration {

class RateLimiter {
 public:
  explicit RateLimiter(uint64_t bytes_per_second) : rate_(bytes_per_second) {}
  // Records `bytes` as sent and sleeps until the schedule allows more.
  void Consumed(uint64_t bytes);

 private:
  uint64_t rate_;  // 0: unlimited
  int64_t start_ns_ = 0;
  uint64_t total_ = 0;
};

}  // namespace ferry::migration
