// Slows a guest down by taking a share of each 10 ms period away from its
// vCPUs (parked outside KVM_RUN), like QEMU's CPU throttling for
// auto-converge. Pause/resume through the run gate, so it composes with it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "machine/run_gate.h"

namespace ferry {

class Throttle {
 public:
  Throttle(RunGate& gate, int percent);
  ~Throttle();  // stops throttling; the vCPUs run freely again
  Throttle(const Throttle&) = delete;
  Throttle& operator=(const Throttle&) = delete;

 private:
  void Loop();
  RunGate& gate_;
  int percent_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace ferry
