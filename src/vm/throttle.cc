#include "vm/throttle.h"

#include <chrono>

namespace ferry {
namespace {
constexpr auto kPeriod = std::chrono::microseconds(10'000);
}

Throttle::Throttle(RunGate& gate, int percent)
    : gate_(gate), percent_(percent), thread_([this] { Loop(); }) {}

Throttle::~Throttle() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Throttle::Loop() {
  const auto stopped = kPeriod * percent_ / 100;
  const auto running = kPeriod - stopped;
  std::unique_lock lock(mu_);
  while (!done_) {
    gate_.Pause();
    wake_.wait_for(lock, stopped, [&] { return done_; });
    gate_.Resume();
    wake_.wait_for(lock, running, [&] { return done_; });
  }
}

}  // namespace ferry
