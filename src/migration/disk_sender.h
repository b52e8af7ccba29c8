// The disks' part of a migration, sending side. Shared storage: nothing is
// copied (the plan only names the images; the VM hands their locks over
// before `go`). Block migration (--copy-storage): a bulk pass copies every
// chunk the destination lacks while the guest runs, dirty passes follow the
// guest's writes (one per memory round), and the last dirty chunks go while
// the guest is paused, so the destination's image ends bit-identical.
//
// A copy that fails part-way can be resumed: the disk keeps its copy session
// (an id and a log of every write since the copy began), the destination
// keeps what arrived; the next attempt skips chunks the destination holds
// unless the guest wrote them since.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/result.h"
#include "migration/migratable_disk.h"
#include "migration/report.h"
#include "state/disk_plan.h"
#include "state/stream.h"

namespace ferry::migration {

inline constexpr uint32_t kDefaultChunkBytes = 64 * 1024;

class DiskSender {
 public:
  // Called after every batch: rate limit, cancellation, progress.
  using AfterBatch = std::function<Status()>;

  DiskSender(std::vector<MigratableDisk*> disks, bool copy, state::SectionWriter& writer,
             AfterBatch after_batch);

  bool has_disks() const { return !disks_.empty(); }
  bool copying() const { return copy_ && !disks_.empty(); }

  // Starts (or picks up) each disk's copy session and describes the disks.
  std::vector<state::DiskPlanEntry> Plan();
  // What the destination already holds: decides the bulk pass.
  Status ApplyResume(const std::vector<state::DiskResumeEntry>& answers);

  // Every chunk the destination lacks or that changed since it got it.
  Status BulkPass();
  // The chunks written since the previous pass; returns how many were sent.
  Result<uint64_t> DirtyPass(bool paused);
  // Bytes written since the last pass (what a switchover now would still send).
  uint64_t PendingBytes() const;
  // What is still to go: the rest of the bulk pass and the writes since the
  // last pass (for progress reports).
  uint64_t BytesLeft() const { return bulk_bytes_left_ + PendingBytes(); }

  std::vector<DiskReport> reports() const { return reports_; }

 private:
  struct Disk {
    MigratableDisk* disk;
    std::shared_ptr<DiskCopySession> session;
    std::vector<uint64_t> todo;  // the bulk pass: one bit a chunk
    bool target_zeroed = true;
  };
  Status SendChunks(size_t index, const std::vector<uint64_t>& chunks, bool zeros_elided,
                    uint64_t* sent);
  Status SendRun(size_t index, uint64_t first, uint64_t count, bool zeros_elided);

  std::vector<Disk> disks_;
  bool copy_;
  state::SectionWriter& writer_;
  AfterBatch after_batch_;
  std::vector<DiskReport> reports_;
  std::vector<uint8_t> buffer_;
  uint64_t bulk_bytes_left_ = 0;
};

}  // namespace ferry::migration
