// A MigratableVm with one real disk and no KVM, for block migration in tests
// and bench/block_migration_bench.cc: plain memory (migration's PlainVm) plus
// ferry's VirtioBlock behind its real PCI transport, written by a polling
// driver thread that plays the guest's I/O. Every write goes through the
// device, so the copy session records it exactly as it records a guest's.
// Pause quiesces the device as the VM does. Test-only; never linked into ferry.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "devices/virtio/blk_ring_driver_test_util.h"
#include "devices/virtio/test_driver.h"
#include "migration/plain_vm_test_util.h"
#include "vm/block_disk.h"

namespace ferry::testing {

class DiskWritingVm final : public migration::MigratableVm {
 public:
  static constexpr uint32_t kRequestBytes = 1 << 20;

  // `ram_bytes` of zero memory, and the raw image at `image` as its disk.
  static Result<std::unique_ptr<DiskWritingVm>> Create(uint64_t ram_bytes,
                                                       const std::string& image) {
    ASSIGN_OR_RETURN(std::unique_ptr<migration::testing::PlainVm> plain,
                     migration::testing::PlainVm::Create(ram_bytes, 1));
    ASSIGN_OR_RETURN(RawDisk disk, RawDisk::Open({image, false, ""}));
    ASSIGN_OR_RETURN(GuestMemory rings,
                     GuestMemory::Create(BlkRingDriver::MemoryBytes(1, kRequestBytes)));
    std::unique_ptr<DiskWritingVm> vm(
        new DiskWritingVm(std::move(plain), std::move(disk), std::move(rings)));
    ASSIGN_OR_RETURN(vm->transport_, VirtioPciTransport::Create(vm->block_, vm->rings_, vm->irq_,
                                                                nullptr, 0, "blk"));
    vm->transport_->AssignBar(0, 0xc0000000);
    return vm;
  }

  ~DiskWritingVm() override { StopWriter(); }

  // The guest's I/O: 1 MiB writes in order, round and round the disk's first
  // `span` bytes, at `bytes_per_s`, until StopWriter (held while paused); each
  // request's data stamped with its number (so a stale copy of any chunk shows).
  void StartWriter(uint64_t span, uint64_t bytes_per_s) {
    writer_ = std::thread([this, span, bytes_per_s] {
      BlkRingDriver driver(rings_, *transport_, span);
      driver.Initialize();
      auto start = std::chrono::steady_clock::now();
      uint64_t request = 0;
      BlkRunHooks hooks;
      hooks.abandon = &stop_;
      hooks.before_submit = [&](uint8_t* data, uint32_t length) {
        auto due =
            start +
            std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::duration<double>(static_cast<double>(request) * length / bytes_per_s));
        std::unique_lock lock(mu_);
        running_cv_.wait_until(lock, due, [this] { return stop_.load(); });
        running_cv_.wait(lock, [this] { return !paused_ || stop_.load(); });
        if (stop_.load()) return false;
        for (uint32_t at = 0; at < length; at += 8) {
          uint64_t word = request << 32 | at;
          std::memcpy(data + at, &word, 8);
        }
        ++request;
        return true;
      };
      Result<double> rate =
          driver.Run({"writer", virtio_blk::kTypeOut, kRequestBytes, 1, true}, ~0ull, hooks);
      writer_failed_.store(!rate.ok());
      bytes_written_.store(driver.completed() * kRequestBytes);
    });
  }
  void StopWriter() {
    {
      std::lock_guard lock(mu_);
      stop_.store(true);
    }
    running_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }
  // Set once the writer has stopped.
  uint64_t bytes_written() const { return bytes_written_.load(); }
  bool writer_failed() const { return writer_failed_.load(); }

  migration::testing::PlainVm& plain() { return *plain_; }

  Status Pause() override {
    {
      std::lock_guard lock(mu_);
      paused_ = true;
    }
    transport_->Pause();  // returns once no request is in flight
    return plain_->Pause();
  }
  Status Resume() override {
    RETURN_IF_ERROR(plain_->Resume());
    transport_->Resume();
    {
      std::lock_guard lock(mu_);
      paused_ = false;
    }
    running_cv_.notify_all();
    return OkStatus();
  }
  Result<state::MachineState> CaptureState() const override { return plain_->CaptureState(); }
  state::MachineConfig machine_config() const override { return plain_->machine_config(); }
  const GuestMemory& memory() const override { return plain_->memory(); }
  Result<std::unique_ptr<migration::DirtyTracker>> StartDirtyTracking() override {
    return plain_->StartDirtyTracking();
  }
  void SetThrottle(int percent) override { plain_->SetThrottle(percent); }
  std::vector<migration::MigratableDisk*> disks() override { return {&disk_}; }

 private:
  DiskWritingVm(std::unique_ptr<migration::testing::PlainVm> plain, RawDisk disk, GuestMemory rings)
      : plain_(std::move(plain)),
        block_(std::move(disk)),
        rings_(std::move(rings)),
        disk_(block_) {}

  std::unique_ptr<migration::testing::PlainVm> plain_;
  VirtioBlock block_;
  GuestMemory rings_;  // the driver's rings and buffers: not the migrated memory
  NoInterrupts irq_;
  std::unique_ptr<VirtioPciTransport> transport_;
  BlockDisk disk_;
  std::mutex mu_;
  std::condition_variable running_cv_;
  bool paused_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> writer_failed_{false};
  std::atomic<uint64_t> bytes_written_{0};
  std::thread writer_;
};

}  // namespace ferry::testing
