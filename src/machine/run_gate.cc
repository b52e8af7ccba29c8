#include "machine/run_gate.h"

#include <signal.h>

namespace ferry {
namespace {

int KickSignal() {
  return SIGRTMIN;
}

void IgnoreKick(int) {}

}  // namespace

void InstallVcpuKickHandler() {
  struct sigaction action {};
  action.sa_handler = IgnoreKick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  sigaction(KickSignal(), &action, nullptr);
}

RunGate::RunGate(std::vector<kvm_run*> runs) {
  for (kvm_run* run : runs) slots_.push_back(Slot{run});
}

void RunGate::Attach(size_t index) {
  std::lock_guard lock(mu_);
  slots_[index].thread = pthread_self();
  slots_[index].attached = true;
}

void RunGate::Detach(size_t index) {
  std::lock_guard lock(mu_);
  slots_[index].detached = true;
  changed_.notify_all();
}

RunGate::Decision RunGate::CheckIn(size_t index) {
  Slot& slot = slots_[index];
  // Fast path, no lock: clear the kick flag *before* reading the mode. A kicker
  // stores the mode first and the flag second, so either we see its mode here
  // or KVM_RUN sees its flag and returns at once.
  __atomic_store_n(&slot.run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  switch (mode_.load()) {
    case Mode::kRun:
      return Decision::kRun;
    case Mode::kStop:
      return Decision::kStop;
    case Mode::kPause:
      break;
  }
  __atomic_store_n(&slot.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  return Decision::kSettle;
}

RunGate::Decision RunGate::Park(size_t index) {
  Slot& slot = slots_[index];
  std::unique_lock lock(mu_);
  slot.parked = true;
  changed_.notify_all();
  changed_.wait(lock, [&] { return mode_.load() != Mode::kPause; });
  slot.parked = false;
  __atomic_store_n(&slot.run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  return mode_.load() == Mode::kRun ? Decision::kRun : Decision::kStop;
}

void RunGate::KickAllLocked() {
  for (Slot& slot : slots_) {
    __atomic_store_n(&slot.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (slot.attached && !slot.detached) pthread_kill(slot.thread, KickSignal());
  }
}

bool RunGate::AllParkedLocked() const {
  for (const Slot& slot : slots_) {
    if (!slot.parked && !slot.detached) return false;
  }
  return true;
}

void RunGate::Pause() {
  std::unique_lock lock(mu_);
  if (mode_.load() == Mode::kStop) return;
  ++pause_depth_;
  mode_.store(Mode::kPause);
  KickAllLocked();
  // A vCPU blocked in KVM_RUN (e.g. an AP waiting for SIPI) needs the signal;
  // repeat the kick in case it arrived just before the thread entered the ioctl.
  while (!changed_.wait_for(lock, std::chrono::milliseconds(20),
                            [&] { return AllParkedLocked() || mode_.load() == Mode::kStop; })) {
    KickAllLocked();
  }
}

void RunGate::StartPaused() {
  std::lock_guard lock(mu_);
  if (mode_.load() != Mode::kRun) return;
  pause_depth_ = 1;
  mode_.store(Mode::kPause);
}

void RunGate::Resume() {
  std::lock_guard lock(mu_);
  if (mode_.load() != Mode::kPause || pause_depth_ == 0) return;
  if (--pause_depth_ > 0) return;
  mode_.store(Mode::kRun);
  changed_.notify_all();
}

void RunGate::Stop(StopReason reason) {
  std::lock_guard lock(mu_);
  if (!reason_) reason_ = std::move(reason);
  mode_.store(Mode::kStop);
  KickAllLocked();
  changed_.notify_all();
}

StopReason RunGate::WaitUntilStopped() {
  std::unique_lock lock(mu_);
  for (;;) {
    bool all_gone = true;
    for (const Slot& slot : slots_) all_gone = all_gone && (slot.detached || !slot.attached);
    if (mode_.load() == Mode::kStop && all_gone) return *reason_;
    if (mode_.load() == Mode::kStop) KickAllLocked();
    changed_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

}  // namespace ferry
