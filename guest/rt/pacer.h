// Rate control by kvmclock: a token bucket that hands out work in small bursts so that
// the average rate matches the target while heartbeats keep running in between.
#pragma once

#include <stdint.h>

namespace guest {

class Pacer {
 public:
  // bytes_per_second 0 means no limit. unit_bytes is the size of one unit of work.
  Pacer(uint64_t bytes_per_second, uint64_t unit_bytes, uint64_t now_ns)
      : rate_(bytes_per_second), unit_(unit_bytes), last_ns_(now_ns) {}

  // Units that may be done now, at most `most`.
  uint64_t take(uint64_t now_ns, uint64_t most) {
    if (rate_ == 0) return most;
    // Credit is kept in byte-nanoseconds-per-second so that integer math loses nothing.
    credit_ += static_cast<unsigned __int128>(now_ns - last_ns_) * rate_;
    last_ns_ = now_ns;
    // Do not save up for more than kMaxCatchUpNs: after a pause (say, a migration
    // switchover) the guest resumes at the set rate instead of bursting to catch up.
    unsigned __int128 cap = static_cast<unsigned __int128>(kMaxCatchUpNs) * rate_;
    unsigned __int128 unit = static_cast<unsigned __int128>(unit_) * kNsPerSecond;
    if (cap < unit * most) cap = unit * most;
    if (credit_ > cap) credit_ = cap;
    uint64_t n = static_cast<uint64_t>(credit_ / unit);
    if (n > most) n = most;
    credit_ -= unit * n;
    return n;
  }

 private:
  static constexpr uint64_t kNsPerSecond = 1'000'000'000;
  static constexpr uint64_t kMaxCatchUpNs = 50'000'000;

  uint64_t rate_;
  uint64_t unit_;
  uint64_t last_ns_;
  unsigned __int128 credit_ = 0;
};

}  // namespace guest
