#include "migration/rate_limiter.h"

#include <time.h>

#include "base/clock.h"

namespace ferry::migration {

void RateLimiter::Consumed(uint64_t bytes) {
  if (rate_ == 0) return;
  if (start_ns_ == 0) start_ns_ = MonotonicNs();
  total_ += bytes;
  int64_t due_ns = start_ns_ + static_cast<int64_t>(static_cast<double>(total_) * 1e9 /
                                                    static_cast<double>(rate_));
  int64_t wait = due_ns - MonotonicNs();
  if (wait > 0) {
    timespec ts{wait / 1'000'000'000, wait % 1'000'000'000};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace ferry::migration
