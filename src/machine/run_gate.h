// Coordinates the vCPU threads with the control side: run, pause (every vCPU
// parked outside KVM_RUN), resume, stop. A vCPU inside KVM_RUN is kicked out
// with immediate_exit plus a signal, the race-free pattern KVM documents.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "machine/stop_reason.h"

namespace ferry {

class RunGate {
 public:
  explicit RunGate(std::vector<kvm_run*> runs);

  // --- vCPU thread side ---
  // Called once by each vCPU thread before its first CheckIn.
  void Attach(size_t index);
  enum class Decision { kRun, kSettle, kStop };
  // kRun: enter KVM_RUN. kStop: leave the loop. kSettle: a pause is pending;
  // the vCPU must first complete its last exit (KVM_RUN with immediate_exit
  // set, so the guest state is consistent) and then call Park().
  Decision CheckIn(size_t index);
  // Blocks while paused; returns kRun or kStop.
  Decision Park(size_t index);
  void Detach(size_t index);

  // --- control side ---
  // Returns once every vCPU is parked (or gone). Pauses nest: the vCPUs run
  // again when every Pause has had its Resume (a throttle and an operator's
  // pause may overlap).
  void Pause();
  void Resume();
  // Before any vCPU thread exists: they will park on arrival, as if paused
  // (a migration destination starts its threads before the state arrives).
  void StartPaused();
  // Records the first reason and makes every vCPU leave. Safe from any thread.
  void Stop(StopReason reason);
  bool stopping() const { return mode_.load() == Mode::kStop; }
  // Blocks until Stop() has been called and every vCPU thread has detached.
  StopReason WaitUntilStopped();

 private:
  enum class Mode { kRun, kPause, kStop };
  struct Slot {
    kvm_run* run;
    pthread_t thread{};
    bool attached = false;
    bool parked = false;
    bool detached = false;
  };
  void KickAllLocked();
  bool AllParkedLocked() const;

  std::atomic<Mode> mode_{Mode::kRun};
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Slot> slots_;
  std::optional<StopReason> reason_;
  int pause_depth_ = 0;
};

// Installs the no-op handler for the signal that kicks vCPUs out of KVM_RUN.
void InstallVcpuKickHandler();

}  // namespace ferry
