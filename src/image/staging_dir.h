// A directory built under a temporary name (".NAME.ferry-part" beside it)
// and renamed into place when complete, so that an import that fails leaves
// nothing under the name asked for. The final name must not exist or be an
// empty directory, unless the caller lets the new directory replace it.
#pragma once

#include <string>

#include "base/result.h"

namespace ferry::image {

class StagingDir {
 public:
  // `force` removes a staging directory an interrupted run left behind.
  // `replace`: an existing final directory holding only regular files (an
  // earlier output) is replaced at Commit, and removed only then.
  static Result<StagingDir> Prepare(const std::string& final_path, bool force,
                                    bool replace = false);

  StagingDir(StagingDir&& other) noexcept;
  StagingDir& operator=(StagingDir&&) = delete;
  ~StagingDir();  // removes the staging directory and its files unless committed

  const std::string& path() const { return temp_; }
  std::string File(const std::string& name) const { return temp_ + "/" + name; }
  Status Commit();

 private:
  StagingDir(std::string final_path, std::string temp)
      : final_(std::move(final_path)), temp_(std::move(temp)) {}
  Status ReplaceFinal();
  std::string final_;
  std::string temp_;
  bool replace_ = false;
  bool done_ = false;
};

}  // namespace ferry::image
