// Outputs are written under a temporary name beside the final one and
// renamed into place only when complete, so that a failure or a kill never
// leaves a half-written image under the name the user asked for.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace ferry::image {

class TempOutput {
 public:
  // Refuses an existing `final_path` unless `force`. The temporary name is
  // ".NAME.ferry-part" in the same directory (same file system, so the
  // rename is atomic). A temporary file left by an interrupted run is
  // refused too, unless `force` (it is removed) or `resume` (it is kept, to
  // be written on).
  static Result<TempOutput> Prepare(const std::string& final_path, bool force, bool resume = false);

  TempOutput(TempOutput&& other) noexcept;
  TempOutput& operator=(TempOutput&&) = delete;
  TempOutput(const TempOutput&) = delete;
  ~TempOutput();  // removes the temporary file unless committed

  const std::string& temp_path() const { return temp_; }
  const std::string& final_path() const { return final_; }
  // Renames the temporary file to the final name and syncs the directory.
  Status Commit();
  // A file that belongs to the temporary one (a checkpoint): removed with it
  // on failure and after Commit.
  void AddSidecar(std::string path) { sidecars_.push_back(std::move(path)); }

 private:
  TempOutput(std::string final_path, std::string temp)
      : final_(std::move(final_path)), temp_(std::move(temp)) {}
  std::string final_;
  std::string temp_;
  std::vector<std::string> sidecars_;
  bool done_ = false;
};

// The temporary name TempOutput uses for `final_path`.
std::string TempNameFor(const std::string& final_path);

}  // namespace ferry::image
