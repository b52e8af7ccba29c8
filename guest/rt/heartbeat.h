// Per-CPU heartbeat: "hb cpu=C seq=N t_us=T" every period, and the largest gap between
// consecutive beats, which is how long this CPU saw the guest stand still (e.g. the
// pause of a live migration).
#pragma once

#include <stdint.h>

namespace guest {

class Heartbeat {
 public:
  // period_ns 0 prints nothing; then the gap is measured between calls to poll().
  constexpr Heartbeat(int cpu, uint64_t period_ns) : cpu_(cpu), period_ns_(period_ns) {}

  void start(uint64_t now_ns);
  // Call often (well under a period apart); prints a beat when one is due.
  void poll(uint64_t now_ns);

  uint64_t max_gap_ns() const { return max_gap_ns_; }
  // Work done so far (e.g. pages written); once set, beats end in " work=N",
  // so an observer can see the workload's throughput over time.
  void set_work(uint64_t work) {
    work_ = work;
    has_work_ = true;
  }

 private:
  int cpu_;
  uint64_t period_ns_;
  uint64_t seq_ = 0;
  uint64_t last_ns_ = 0;
  uint64_t next_ns_ = 0;
  uint64_t max_gap_ns_ = 0;
  uint64_t work_ = 0;
  bool has_work_ = false;
};

}  // namespace guest
