// Resumable convert: ties the copy engine's resume hooks to the checkpoint
// file beside the partial output. A new run with the same source and output
// options finds the checkpoint, reopens the partial output and continues at
// the first task the checkpoint does not vouch for; anything else about a
// leftover partial output is refused with the reason, never overwritten.
#pragma once

#include <optional>
#include <string>

#include "base/fd.h"
#include "image/checkpoint.h"
#include "image/convert.h"
#include "image/image.h"

namespace ferry::image {

class ConvertCheckpoints {
 public:
  // `identity` names the source and every option that shapes the output.
  // With `force` any leftover is ignored (the caller starts over).
  static Result<ConvertCheckpoints> Find(const std::string& temp_path, std::string identity,
                                         bool force);

  // A checkpoint kept elsewhere than beside a partial output (v2p writes in
  // place): the caller has found `found` at `path` and checked its identity.
  static ConvertCheckpoints At(std::string path, std::string identity,
                               std::optional<Checkpoint> found);

  // The checkpoint to resume from; nullopt: start from the beginning.
  const std::optional<Checkpoint>& found() const { return found_; }
  const std::string& path() const { return path_; }

  // Takes an exclusive lock on the partial output so that two runs never
  // write the same one.
  Status Lock(const std::string& temp_path);
  // Makes `copy` continue from found() and write checkpoints every
  // `interval` seconds, if `writer` can save its state.
  Status Install(ImageWriter& writer, CopyOptions& copy, double interval);
  // After the copy finished: a checkpoint that vouches for the whole plan,
  // for callers with more phases after the copy (p2v with fix-ups).
  Status SaveComplete(ImageWriter& writer);

 private:
  std::string path_;
  std::string identity_;
  std::optional<Checkpoint> found_;
  Fd lock_;
  PlanInfo plan_;
  uint64_t checkpoints_ = 0;  // written by this run
};

// A copy into a new image under a temporary name that resumes a matching
// interrupted run, writes checkpoints as it goes and renames the output into
// place at the end: convert, and p2v without fix-ups.
struct ResumableCopy {
  std::string src_path;
  std::string dst_path;
  Format format = Format::kRaw;
  CreateOptions create;
  std::string output_options;  // part of the identity
  bool force = false;
  double interval = 5;  // seconds between checkpoints
};
Result<CopyStats> RunResumableCopy(ImageReader& src, const ResumableCopy& job, CopyOptions copy);

// The identity of a convert: the source file (path, size, change time,
// inode) and the output options, as one string.
Result<std::string> ConvertIdentity(const std::string& src_path, const ImageReader& src,
                                    const std::string& output_options);

}  // namespace ferry::image
