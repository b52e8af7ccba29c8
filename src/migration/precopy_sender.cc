#include "migration/precopy_sender.h"

#include <cstring>
#include <functional>
#include <memory>

#include "base/clock.h"
#include "migration/disk_sender.h"
#include "migration/page_batch.h"
#include "migration/rate_limiter.h"
#include "migration/sender_steps.h"
#include "state/memory_image.h"

namespace ferry::migration {
namespace {

constexpr size_t kPagesPerBatch = 1024;  // 4 MiB sections
constexpr int64_t kProgressEveryNs = 100'000'000;

double MibPerSecond(uint64_t bytes, double ms) {
  return ms > 0 ? static_cast<double>(bytes) / (1 << 20) / (ms / 1000) : 0;
}

// Sends page records in batches, straight from guest memory. While the guest
// runs, the page data stays out of the section CRC (page_batch.h says why);
// once it is paused, everything is checked.
class PageSender {
 public:
  PageSender(const GuestMemory& memory, SenderStreams& streams, const PrecopyOptions& options,
             MigrationReport& report)
      : memory_(memory),
        streams_(streams),
        options_(options),
        report_(report),
        batch_(kPagesPerBatch),
        limiter_(options.bandwidth) {
    batch_.set_live(true);
  }

  void set_live(bool live) { batch_.set_live(live); }
  // Where progress reports learn how much of the disks is still to go.
  void set_disk_bytes_left(std::function<uint64_t()> disk_bytes_left) {
    disk_bytes_left_ = std::move(disk_bytes_left);
  }
  void set_round(int round, uint64_t pages) {
    round_ = round;
    pages_left_ = pages;
  }

  // A page known to hold data (first pass).
  Status AddData(uint64_t page) { return Add(page, false); }
  // A page seen dirty: it may have become zero, which the destination must learn.
  Status AddDirty(uint64_t page) { return Add(page, true); }

  Status Flush() {
    if (batch_.empty()) return OkStatus();
    RETURN_IF_ERROR(batch_.Flush(streams_.writer));
    return Account();
  }

  // After anything went out (pages or disk chunks): the bandwidth cap,
  // cancellation and progress.
  Status Account() {
    uint64_t now = streams_.sink.bytes_written();
    limiter_.Consumed(now - accounted_);
    accounted_ = now;
    if (options_.cancel && options_.cancel->load()) {
      return Error(ErrorCode::kFailedPrecondition, "cancelled");
    }
    MaybeReport();
    return OkStatus();
  }

  uint64_t pages_sent() const { return pages_sent_; }

 private:
  Status Add(uint64_t page, bool may_be_zero) {
    const uint8_t* data = memory_.host_base() + page * kPageSize;
    if (may_be_zero && state::IsZeroPage(data)) {
      batch_.AddZero(page);
      ++report_.pages_zero;
    } else {
      batch_.AddNormal(page, data);
      ++report_.pages_normal;
    }
    ++pages_sent_;
    if (pages_left_ > 0) --pages_left_;
    return batch_.full() ? Flush() : OkStatus();
  }

  void MaybeReport() {
    int64_t now = MonotonicNs();
    if (!options_.on_progress || now - last_progress_ns_ < kProgressEveryNs) return;
    uint64_t bytes = streams_.sink.bytes_written();
    Progress p;
    p.round = round_;
    p.bytes_sent = bytes;
    p.pages_left = pages_left_;
    if (disk_bytes_left_) p.disk_bytes_left = disk_bytes_left_();
    if (last_progress_ns_ != 0) {
      p.mib_per_s = static_cast<double>(bytes - last_bytes_) / (1 << 20) /
                    (static_cast<double>(now - last_progress_ns_) / 1e9);
    }
    p.throttle_pct = report_.throttle_pct;
    options_.on_progress(p);
    last_progress_ns_ = now;
    last_bytes_ = bytes;
  }

  const GuestMemory& memory_;
  SenderStreams& streams_;
  const PrecopyOptions& options_;
  MigrationReport& report_;
  PageBatch batch_;
  RateLimiter limiter_;
  uint64_t pages_sent_ = 0;
  uint64_t accounted_ = 0;
  int round_ = 0;
  uint64_t pages_left_ = 0;
  int64_t last_progress_ns_ = 0;
  uint64_t last_bytes_ = 0;
  std::function<uint64_t()> disk_bytes_left_;
};

class PrecopySession {
 public:
  PrecopySession(MigratableVm& vm, int fd, const PrecopyOptions& options, MigrationReport& report)
      : vm_(vm),
        streams_(fd),
        report_(report),
        pages_(vm.memory(), streams_, options, report),
        disks_(vm.disks(), options.copy_storage, streams_.writer,
               [this] { return pages_.Account(); }),
        policy_(options.policy) {
    if (disks_.copying()) pages_.set_disk_bytes_left([this] { return disks_.BytesLeft(); });
  }

  // Everything up to `ready`. Any failure here leaves the VM to the source.
  Status RunUntilReady(int64_t started_ns) {
    RETURN_IF_ERROR(OpenStream(vm_, streams_, report_, started_ns));
    RETURN_IF_ERROR_CTX(OpenDisks(disks_, streams_), "disks");
    // Disks first: the bulk copy is long, and memory dirtied meanwhile
    // would only be sent twice.
    RETURN_IF_ERROR_CTX(disks_.BulkPass(), "copying disks");
    ASSIGN_OR_RETURN(tracker_, vm_.StartDirtyTracking());
    report_.dirty_tracking = tracker_->method();
    RETURN_IF_ERROR(tracker_->Collect());  // arms tracking: from here every write is seen
    ASSIGN_OR_RETURN(DirtyBitmap dirty, FirstRound());
    for (;;) {
      Decision decision = policy_.Next(last_round_);
      report_.predicted_downtime_ms = decision.predicted_downtime_ms;
      if (decision.action == Action::kAbort) {
        report_.reason = decision.reason;
        return Error(ErrorCode::kFailedPrecondition, "did not converge: " + decision.reason);
      }
      if (decision.action == Action::kSwitchover) {
        report_.reason = decision.reason;
        report_.converged = decision.converged;
        if (decision.converged) RETURN_IF_ERROR(DrainBeforePause());
        break;
      }
      if (decision.action == Action::kThrottle) {
        report_.throttle_pct = decision.throttle_pct;
        vm_.SetThrottle(decision.throttle_pct);
      }
      ASSIGN_OR_RETURN(dirty, DirtyRound(dirty));
    }
    return SwitchOver(dirty);
  }

  Status HandOver(int64_t started_ns, bool* committed) {
    return migration::HandOver(streams_, report_, paused_ns_, started_ns, committed);
  }

  // After a failure before `go`: the guest goes on here at full speed.
  void Recover() {
    vm_.SetThrottle(0);
    tracker_.reset();
    report_.disks = disks_.reports();
    if (paused_) (void)vm_.Resume();
  }

  void Finish() {
    vm_.SetThrottle(0);
    tracker_.reset();
    report_.disks = disks_.reports();
  }

 private:
  Result<DirtyBitmap> FirstRound() {
    int64_t start = MonotonicNs();
    uint64_t bytes_before = streams_.sink.bytes_written();
    state::MemoryImageStats stats;
    pages_.set_round(1, 0);
    RETURN_IF_ERROR(state::ScanDataRuns(
        vm_.memory(),
        [&](uint64_t offset, uint64_t length) -> Status {
          for (uint64_t at = offset; at < offset + length; at += kPageSize) {
            RETURN_IF_ERROR(pages_.AddData(at / kPageSize));
          }
          return OkStatus();
        },
        &stats));
    RETURN_IF_ERROR(pages_.Flush());
    report_.pages_zero += stats.pages_zero;  // never sent: the destination starts zeroed
    ASSIGN_OR_RETURN(uint64_t disk_bytes, disks_.DirtyPass(false));
    return EndRound(1, stats.pages_data + disk_bytes / kPageSize, start, bytes_before);
  }

  Result<DirtyBitmap> DirtyRound(const DirtyBitmap& dirty) {
    int round = static_cast<int>(report_.rounds.size()) + 1;
    int64_t start = MonotonicNs();
    uint64_t bytes_before = streams_.sink.bytes_written();
    uint64_t count = dirty.Count();
    pages_.set_round(round, count);
    Status status = OkStatus();
    dirty.ForEach([&](uint64_t page) {
      if (status.ok()) status = pages_.AddDirty(page);
    });
    RETURN_IF_ERROR(status);
    RETURN_IF_ERROR(pages_.Flush());
    ASSIGN_OR_RETURN(uint64_t disk_bytes, disks_.DirtyPass(false));
    return EndRound(round, count + disk_bytes / kPageSize, start, bytes_before);
  }

  // What the last rounds wrote may still sit in socket buffers or in the
  // receiver's queue (8 MiB each way: tens of milliseconds). The policy
  // counted it as sent; paused, it would be downtime. So the guest keeps
  // running until the destination has it all; pages dirtied meanwhile join
  // the final set. Only when the target was met: a guest that outruns the
  // link would dirty more while waiting than the wait saves.
  Status DrainBeforePause() {
    int64_t start = MonotonicNs();
    ASSIGN_OR_RETURN(bool drained, DrainToReceiver(streams_));
    if (drained) report_.drain_ms = NsToMs(MonotonicNs() - start);
    return OkStatus();
  }

  Result<DirtyBitmap> EndRound(int round, uint64_t pages, int64_t start, uint64_t bytes_before) {
    int64_t collect_start = MonotonicNs();
    ASSIGN_OR_RETURN(DirtyBitmap next, tracker_->Collect());
    int64_t end = MonotonicNs();
    double ms = NsToMs(end - start);
    uint64_t bytes = streams_.sink.bytes_written() - bytes_before;
    // Disk chunks the guest wrote count as pages for the policy: a byte is a
    // byte at switchover.
    uint64_t dirtied = next.Count() + disks_.PendingBytes() / kPageSize;
    last_round_ = RoundStats{round, pages, bytes, ms, dirtied};
    report_.rounds.push_back({pages, last_round_.pages_dirtied, ms, MibPerSecond(bytes, ms),
                              NsToMs(end - collect_start)});
    return next;
  }

  Status SwitchOver(const DirtyBitmap& dirty) {
    vm_.SetThrottle(0);
    // Downtime starts when we ask the vCPUs to stop.
    paused_ns_ = MonotonicNs();
    RETURN_IF_ERROR(vm_.Pause());
    paused_ = true;
    Cork(streams_, true);  // the last pages and the device state go out together
    report_.switchover.pause_ms = NsToMs(MonotonicNs() - paused_ns_);
    // The last dirty pages: the ones seen before the pause plus any written since.
    int64_t collect_start = MonotonicNs();
    ASSIGN_OR_RETURN(DirtyBitmap last, tracker_->CollectFinal());
    double collect_ms = NsToMs(MonotonicNs() - collect_start);
    report_.ring_full_exits = tracker_->ring_full_exits();
    last.Merge(dirty);
    // No request is in flight once paused: these are the disks' last writes.
    RETURN_IF_ERROR_CTX(disks_.DirtyPass(true), "copying the last disk writes");
    pages_.set_live(false);
    pages_.set_round(static_cast<int>(report_.rounds.size()) + 1, last.Count());
    int64_t start = MonotonicNs();
    uint64_t bytes_before = streams_.sink.bytes_written();
    Status status = OkStatus();
    last.ForEach([&](uint64_t page) {
      if (status.ok()) status = pages_.AddDirty(page);
    });
    RETURN_IF_ERROR(status);
    RETURN_IF_ERROR(pages_.Flush());
    double ms = NsToMs(MonotonicNs() - start);
    uint64_t bytes = streams_.sink.bytes_written() - bytes_before;
    report_.rounds.push_back({last.Count(), 0, ms, MibPerSecond(bytes, ms), collect_ms});
    report_.switchover.last_pages_ms =
        NsToMs(MonotonicNs() - paused_ns_) - report_.switchover.pause_ms;
    RETURN_IF_ERROR(SendDevicesAndAwaitReady(vm_, streams_, report_.switchover));
    report_.transfer_ms = NsToMs(MonotonicNs() - paused_ns_);
    return OkStatus();
  }

  MigratableVm& vm_;
  SenderStreams streams_;
  MigrationReport& report_;
  PageSender pages_;
  DiskSender disks_;
  ConvergencePolicy policy_;
  std::unique_ptr<DirtyTracker> tracker_;
  RoundStats last_round_;
  bool paused_ = false;
  int64_t paused_ns_ = 0;
};

}  // namespace

Result<MigrationReport> SendPrecopy(MigratableVm& vm, int fd, const std::string& destination,
                                    int64_t started_ns, const PrecopyOptions& options,
                                    bool* committed) {
  *committed = false;
  MigrationReport report;
  report.mode = "precopy";
  report.destination = destination;
  report.downtime_target_ms = options.policy.downtime_ms;
  SetPeerTimeout(fd, options.peer_timeout_ms);
  PrecopySession session(vm, fd, options, report);
  Status ready = session.RunUntilReady(started_ns);
  if (!ready.ok()) {
    session.Recover();
    return std::move(ready).error();
  }
  // Dirty tracking ends only after the handover: turning it off rewrites the
  // memory slots, which KVM makes wait for an SRCU grace period, and that has
  // no business inside the downtime.
  Status handed_over = session.HandOver(started_ns, committed);
  session.Finish();
  if (!handed_over.ok()) {
    if (!*committed) (void)vm.Resume();  // `go` never left: the VM is still ours
    return std::move(handed_over).error();
  }
  return report;
}

}  // namespace ferry::migration
