#include "rt/heartbeat.h"

#include "rt/console.h"

namespace guest {

void Heartbeat::start(uint64_t now_ns) {
  last_ns_ = now_ns;
  next_ns_ = now_ns + period_ns_;
}

void Heartbeat::poll(uint64_t now_ns) {
  if (now_ns < next_ns_) return;
  // A beat waits (and the workload goes on) while another CPU holds the console.
  if (period_ns_ != 0) {
    bool printed =
        has_work_ ? console::try_print("hb cpu=%d seq=%lu t_us=%lu work=%lu\n", cpu_, seq_,
                                       now_ns / 1000, work_)
                  : console::try_print("hb cpu=%d seq=%lu t_us=%lu\n", cpu_, seq_, now_ns / 1000);
    if (!printed) return;
  }
  ++seq_;
  if (now_ns - last_ns_ > max_gap_ns_) max_gap_ns_ = now_ns - last_ns_;
  last_ns_ = now_ns;
  // Keep a steady cadence; after a stall, start over from now rather than catch up.
  next_ns_ += period_ns_;
  if (next_ns_ <= now_ns) next_ns_ = now_ns + period_ns_;
}

}  // namespace guest
