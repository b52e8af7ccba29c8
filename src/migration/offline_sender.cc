#include "migration/offline_sender.h"

#include "base/clock.h"
#include "migration/disk_sender.h"
#include "migration/page_batch.h"
#include "migration/rate_limiter.h"
#include "migration/sender_steps.h"
#include "state/memory_image.h"

namespace ferry::migration {
namespace {

constexpr size_t kPagesPerBatch = 1024;  // 4 MiB sections
constexpr int kPeerTimeoutMs = 60'000;

Status SendAllMemory(const GuestMemory& memory, SenderStreams& streams, uint64_t bandwidth,
                     MigrationReport& report) {
  PageBatch batch(kPagesPerBatch);
  RateLimiter limiter(bandwidth);
  auto flush = [&]() -> Status {
    uint64_t before = streams.sink.bytes_written();
    RETURN_IF_ERROR(batch.Flush(streams.writer));
    limiter.Consumed(streams.sink.bytes_written() - before);
    return OkStatus();
  };
  state::MemoryImageStats stats;
  const uint8_t* base = memory.host_base();
  RETURN_IF_ERROR(state::ScanDataRuns(
      memory,
      [&](uint64_t offset, uint64_t length) -> Status {
        for (uint64_t at = offset; at < offset + length; at += kPageSize) {
          batch.AddNormal(at / kPageSize, base + at);
          if (batch.full()) RETURN_IF_ERROR(flush());
        }
        return OkStatus();
      },
      &stats));
  RETURN_IF_ERROR(flush());
  report.pages_normal += stats.pages_data;
  report.pages_zero += stats.pages_zero;
  return OkStatus();
}

// Everything up to `ready`; any failure here leaves the VM to the source.
Status SendPaused(MigratableVm& vm, SenderStreams& streams, DiskSender& disks,
                  MigrationReport& report, int64_t started_ns, uint64_t bandwidth,
                  int64_t* paused_ns, bool* paused) {
  RETURN_IF_ERROR(OpenStream(vm, streams, report, started_ns));
  RETURN_IF_ERROR_CTX(OpenDisks(disks, streams), "disks");
  int64_t pausing = MonotonicNs();
  RETURN_IF_ERROR(vm.Pause());
  *paused = true;
  *paused_ns = pausing;
  report.switchover.pause_ms = NsToMs(MonotonicNs() - pausing);
  int64_t sending = MonotonicNs();
  RETURN_IF_ERROR_CTX(disks.BulkPass(), "copying disks");
  RETURN_IF_ERROR_CTX(SendAllMemory(vm.memory(), streams, bandwidth, report), "sending memory");
  report.switchover.last_pages_ms = NsToMs(MonotonicNs() - sending);
  RETURN_IF_ERROR(SendDevicesAndAwaitReady(vm, streams, report.switchover));
  report.transfer_ms = NsToMs(MonotonicNs() - *paused_ns);
  return OkStatus();
}

}  // namespace

Result<MigrationReport> SendOffline(MigratableVm& vm, int fd, const std::string& destination,
                                    int64_t started_ns, uint64_t bandwidth, bool copy_storage,
                                    bool* committed) {
  *committed = false;
  MigrationReport report;
  report.destination = destination;
  SetPeerTimeout(fd, kPeerTimeoutMs);
  SenderStreams streams(fd);
  int64_t paused_ns = 0;
  bool paused = false;
  RateLimiter disk_limiter(bandwidth);
  uint64_t accounted = 0;
  DiskSender disks(vm.disks(), copy_storage, streams.writer, [&]() -> Status {
    disk_limiter.Consumed(streams.sink.bytes_written() - accounted);
    accounted = streams.sink.bytes_written();
    return OkStatus();
  });
  Status ready = SendPaused(vm, streams, disks, report, started_ns, bandwidth, &paused_ns, &paused);
  report.disks = disks.reports();
  if (!ready.ok()) {
    if (paused) (void)vm.Resume();  // the destination never runs a half-received VM
    return std::move(ready).error();
  }
  Status handed = HandOver(streams, report, paused_ns, started_ns, committed);
  if (!handed.ok()) {
    if (!*committed) (void)vm.Resume();  // `go` never left: the VM is still ours
    return std::move(handed).error();
  }
  return report;
}

}  // namespace ferry::migration
