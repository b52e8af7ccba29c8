// The disks' part of a migration, receiving side: answers the sender's plan
// (opening each block-migration target: a new file, an empty one, or an
// unfinished copy of the same session, which is resumed) and writes the
// chunks that arrive. What arrived is recorded beside each target
// (partial_copy.h) from time to time and whenever the stream fails, so that a
// second `ferry migrate` continues instead of starting over.
#pragma once

#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "migration/disk_chunks.h"
#include "migration/partial_copy.h"
#include "state/disk_plan.h"
#include "state/stream.h"

namespace ferry::migration {

class DiskReceiver {
 public:
  // `targets`: where each disk goes (ferry receive --disk), in the source's order.
  explicit DiskReceiver(std::vector<std::string> targets) : targets_(std::move(targets)) {}

  Result<std::vector<state::DiskResumeEntry>> Prepare(
      const std::vector<state::DiskPlanEntry>& plan);
  // A 'disk-chunks' section whose header was just read.
  Status Receive(state::SectionReader& reader, const state::SectionHeader& header);
  // Makes what arrived durable and records it.
  Status SaveProgress();
  // The VM runs on the copies now: they are complete images.
  Status Complete();

  bool planned() const { return planned_; }
  const std::vector<state::DiskPlanEntry>& plan() const { return plan_; }
  // Where the VM finds each disk: the target given, or for shared storage
  // without one, the path the source uses.
  std::vector<std::string> image_paths() const;

 private:
  struct Target {
    std::string path;
    Fd fd;
    PartialCopy progress;
  };
  Result<state::DiskResumeEntry> OpenTarget(size_t index, const state::DiskPlanEntry& disk);
  Status Apply(Target& target, const state::DiskPlanEntry& disk, const ReceivedChunks& got);
  static void StartWriteback(Target& target, const state::DiskPlanEntry& disk,
                             const std::vector<uint64_t>& chunks);

  std::vector<std::string> targets_;
  std::vector<state::DiskPlanEntry> plan_;
  std::vector<Target> open_;  // one per disk; unused for shared disks
  bool planned_ = false;
  uint64_t bytes_since_save_ = 0;
};

}  // namespace ferry::migration
