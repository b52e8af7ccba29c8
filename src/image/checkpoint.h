// The checkpoint beside a partial output (".NAME.ferry-part.ckpt") that lets
// an interrupted convert carry on where it stopped: which source and options
// it was for, how far the copy plan got, and the writer's saved state. It is
// replaced atomically (write, fsync, rename), after the data it vouches for
// has been flushed, so that it never claims more than the file holds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace ferry::image {

struct Checkpoint {
  // What the output is a copy of, and how it is written: resuming is
  // refused unless a new run's identity is the same.
  std::string identity;
  uint64_t plan_tasks = 0;
  uint32_t plan_digest = 0;
  uint64_t frontier = 0;  // tasks finished
  std::vector<uint8_t> writer_state;
};

std::string CheckpointPathFor(const std::string& temp_path);

Status SaveCheckpoint(const std::string& path, const Checkpoint& checkpoint);
// Parses a checkpoint file, checked as hostile input (magic, CRC32C, sizes).
Result<Checkpoint> LoadCheckpoint(const std::string& path);
Result<Checkpoint> ParseCheckpoint(std::span<const uint8_t> bytes);

}  // namespace ferry::image
