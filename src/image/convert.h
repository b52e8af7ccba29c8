// The copy engine behind `convert` (and later p2v/v2p): plans the copy from
// the source's map so that holes are never read, then copies the data
// ranges with several threads, out of order unless the target format needs
// order, skipping runs of zeros.
#pragma once

#include <cstdint>
#include <functional>

#include "image/image.h"

namespace ferry::image {

struct CopyProgress {
  uint64_t done = 0;   // virtual bytes finished (copied or known zero)
  uint64_t total = 0;  // virtual size
  double seconds = 0;
};

// The copy is a fixed list of tasks planned from the source map; with the
// same source and options the plan is the same, so a copy can stop after any
// prefix of it and a later run can continue from there.
struct PlanInfo {
  uint64_t tasks = 0;
  uint32_t digest = 0;  // CRC32C over every task's offset, length and kind
};

struct ResumeHooks {
  // Called once with the plan; returns the first task to run (0: all).
  std::function<Result<uint64_t>(const PlanInfo&)> begin;
  // Called at quiet points (no write in flight) with every task below
  // `frontier` finished; the writer has not been flushed yet.
  std::function<Status(uint64_t frontier)> checkpoint;
  double interval_seconds = 2;
};

struct CopyOptions {
  // Aligned runs of zeros at least this long are not written (qemu-img's -S).
  // 0 writes every byte that the source map calls data.
  uint64_t sparse_size = 4096;
  // The target reads as zeros already even if the writer cannot tell.
  bool target_is_zero = false;
  int workers = 8;
  uint64_t chunk_size = 2 << 20;
  std::function<void(const CopyProgress&)> progress;  // called on the calling thread
  ResumeHooks resume;                                 // both empty: no checkpoints
};

struct CopyStats {
  uint64_t virtual_size = 0;
  uint64_t bytes_read = 0;     // source bytes read (data extents)
  uint64_t bytes_written = 0;  // bytes handed to the writer as data
  uint64_t zero_bytes = 0;     // virtual bytes known or found to be zero
  uint64_t resumed_at = 0;     // virtual bytes an earlier run had finished
  bool resumed = false;        // continued from a checkpoint
  double seconds = 0;
};

// Copies all of `src` into `dst` and calls dst.Finish().
Result<CopyStats> CopyImage(ImageReader& src, ImageWriter& dst, const CopyOptions& options);

// True when every byte of `data` is zero.
bool IsZero(const uint8_t* data, size_t size);

}  // namespace ferry::image
