// A MigratableVm on plain memory, for driving the migration engine without
// KVM (tests and bench/migration_engine_bench.cc): a writer thread plays the
// guest, changing pages at a set rate and recording them for the dirty
// tracker, and a receiver thread plays `ferry receive`. Test-only; never
// linked into ferry itself.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "migration/migratable.h"
#include "migration/offline_receiver.h"
#include "migration/tcp.h"

namespace ferry::migration::testing {

class PlainVm final : public MigratableVm {
 public:
  static constexpr uint64_t kPage = 4096;

  // Every page whose index is a multiple of `zero_every` stays zero (0: none).
  static Result<std::unique_ptr<PlainVm>> Create(uint64_t bytes, uint64_t zero_every) {
    ASSIGN_OR_RETURN(GuestMemory memory, GuestMemory::Create(bytes));
    std::unique_ptr<PlainVm> vm(new PlainVm(std::move(memory)));
    std::mt19937_64 random(42);
    uint64_t pages = bytes / kPage;
    for (uint64_t page = 0; page < pages; ++page) {
      if (zero_every != 0 && page % zero_every == 0) continue;
      auto* words = reinterpret_cast<uint64_t*>(vm->memory_.host_base() + page * kPage);
      for (uint64_t i = 0; i < kPage / 8; ++i) words[i] = random();
    }
    return vm;
  }

  ~PlainVm() override { StopWriter(); }

  // The guest: rewrites `pages_per_ms` random pages each millisecond while running.
  void StartWriter(uint64_t pages_per_ms) {
    writer_ = std::thread([this, pages_per_ms] {
      std::mt19937_64 random(7);
      uint64_t pages = memory_.ram_bytes() / kPage;
      uint64_t stamp = 0;
      while (!stop_.load()) {
        int64_t tick_end = MonotonicNs() + 1'000'000;
        {
          std::unique_lock lock(mu_);
          running_cv_.wait(lock, [this] { return !paused_ || stop_.load(); });
          for (uint64_t i = 0; i < pages_per_ms && !stop_.load(); ++i) {
            uint64_t page = random() % pages;
            // Write, then record: a Collect in between sends the page again later.
            std::memcpy(memory_.host_base() + page * kPage + (stamp % 512) * 8, &stamp, 8);
            ++stamp;
            if (tracking_) written_->Set(page);
          }
        }
        while (MonotonicNs() < tick_end && !stop_.load()) std::this_thread::yield();
      }
    });
  }
  void StopWriter() {
    stop_.store(true);
    running_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  Status Pause() override {
    std::lock_guard lock(mu_);  // the writer is between pages
    paused_ = true;
    return OkStatus();
  }
  Status Resume() override {
    {
      std::lock_guard lock(mu_);
      paused_ = false;
    }
    running_cv_.notify_all();
    return OkStatus();
  }
  bool paused() {
    std::lock_guard lock(mu_);
    return paused_;
  }

  Result<state::MachineState> CaptureState() const override {
    state::MachineState s;
    s.config = machine_config();
    s.vcpus.resize(1);
    s.vcpus[0].xsave.assign(4096, 0);
    s.vcpus[0].regs.rip = 0x100000;
    return s;
  }
  state::MachineConfig machine_config() const override {
    state::MachineConfig c;
    c.memory_bytes = memory_.ram_bytes();
    c.cpus = 1;
    c.cmdline = "plain memory";
    return c;
  }
  const GuestMemory& memory() const override { return memory_; }
  GuestMemory& mutable_memory() { return memory_; }

  Result<std::unique_ptr<DirtyTracker>> StartDirtyTracking() override {
    std::lock_guard lock(mu_);
    tracking_ = true;
    written_.emplace(memory_.ram_bytes() / kPage);
    return std::unique_ptr<DirtyTracker>(new Tracker(*this));
  }
  void SetThrottle(int) override {}  // the writer keeps its pace

 private:
  class Tracker final : public DirtyTracker {
   public:
    explicit Tracker(PlainVm& vm) : vm_(vm) {}
    ~Tracker() override {
      std::lock_guard lock(vm_.mu_);
      vm_.tracking_ = false;
    }
    Result<DirtyBitmap> Collect() override {
      std::lock_guard lock(vm_.mu_);
      DirtyBitmap taken(vm_.memory_.ram_bytes() / kPage);
      std::swap(taken, *vm_.written_);
      return taken;
    }
    const char* method() const override { return "plain"; }

   private:
    PlainVm& vm_;
  };

  explicit PlainVm(GuestMemory memory) : memory_(std::move(memory)) {}

  GuestMemory memory_;
  std::mutex mu_;
  std::condition_variable running_cv_;
  bool paused_ = false;
  bool tracking_ = false;
  std::optional<DirtyBitmap> written_;
  std::atomic<bool> stop_{false};
  std::thread writer_;
};

// Both ends of one loopback TCP connection, made as ferry makes them.
struct Link {
  Fd source;
  Fd destination;
};

inline Result<Link> LoopbackLink() {
  ASSIGN_OR_RETURN(Fd listener, ListenTcp({"127.0.0.1", "0"}));
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length);
  ASSIGN_OR_RETURN(Fd source,
                   ConnectTcp({"127.0.0.1", std::to_string(ntohs(address.sin_port))}, 2000));
  ASSIGN_OR_RETURN(Fd destination, AcceptTcp(listener.get(), 2000));
  return Link{std::move(source), std::move(destination)};
}

// `ferry receive` without a VM: pages go into memory of the announced size,
// disks (block migration) into `disk_targets`, then ready, go and confirm, as
// the real receiver does.
struct PlainReceiver {
  std::vector<std::string> disk_targets;
  std::optional<GuestMemory> memory;
  Result<state::MachineState> state = Error(ErrorCode::kInternal, "nothing received");
  Status handover = OkStatus();

  void Run(int fd) {
    OfflineReceiver receiver(fd);
    DiskReceiver disks(disk_targets);
    state = receiver.Receive(
        [this](const state::MachineConfig& config) -> Result<GuestMemory*> {
          ASSIGN_OR_RETURN(GuestMemory created, GuestMemory::Create(config.memory_bytes));
          memory.emplace(std::move(created));
          return &*memory;
        },
        disks);
    if (!state.ok()) {
      (void)disks.SaveProgress();
      return;
    }
    handover = receiver.ReadyAndAwaitGo();
    if (handover.ok()) handover = disks.Complete();
    if (handover.ok()) handover = receiver.ConfirmRunning(MonotonicNs());
  }
};

}  // namespace ferry::migration::testing
