// How each disk travels in a migration (docs/state-format.md, "Disks"):
// the sender's plan, and the receiver's answer saying what of each copied
// disk it already holds from an earlier, interrupted attempt.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "state/stream.h"

namespace ferry::state {

enum class DiskMode : uint8_t {
  kShared = 0,  // both hosts see the same image: nothing is copied
  kCopy = 1,    // block migration: the contents travel in the stream
};

struct DiskPlanEntry {
  uint64_t size_bytes = 0;
  uint32_t chunk_bytes = 0;  // copy: the unit of transfer and of write tracking
  DiskMode mode = DiskMode::kShared;
  bool readonly = false;
  std::array<uint8_t, 16> session{};  // copy: the same id on every attempt of one copy
  std::string source_path;  // shared: where the source has it (a default for the receiver)
};

struct DiskResumeEntry {
  // The receiver's target holds nothing but zeros where nothing arrived (a
  // new file): zero chunks need not be sent in the first pass.
  bool target_zeroed = true;
  // Chunks already present from an earlier attempt of the same session (one
  // bit a chunk; empty: none).
  std::vector<uint64_t> present;
};

Status WriteDiskPlan(SectionWriter& writer, const std::vector<DiskPlanEntry>& disks);
Result<std::vector<DiskPlanEntry>> ReadDiskPlan(const Section& section);

Status WriteDiskResume(SectionWriter& writer, const std::vector<DiskResumeEntry>& disks);
// `plan` is what the sender proposed: each answer is checked against it.
Result<std::vector<DiskResumeEntry>> ReadDiskResume(const Section& section,
                                                    const std::vector<DiskPlanEntry>& plan);

uint64_t ChunkCount(const DiskPlanEntry& disk);

}  // namespace ferry::state
