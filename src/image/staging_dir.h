// A directory built under a temporary name (".NAME.ferry-part" beside it)
// and renamed into place when complete, so that an import that fails leaves
// nothing under the name asked for. The final name must not exist or be an
// empty directory.
#pragma once

#include <string>

#include "base/result.h"

namespace ferry::image {

class StagingDir {
 public:
  // `force` removes a staging directory an interrupted run left behind.
  static Result<StagingDir> Prepare(const std::string& final_path, bool force);

  StagingDir(StagingDir&& other) noexcept;
  StagingDir& operator=(StagingDir&&) = delete;
  ~StagingDir();  // removes the staging directory and its files unless committed

  const std::string& path() const { return temp_; }
  std::string File(const std::string& name) const { return temp_ + "/" + name; }
  Status Commit();

 private:
  StagingDir(std::string final_path, std::string temp)
      : final_(std::move(final_path)), temp_(std::move(temp)) {}
  std::string final_;
  std::string temp_;
  bool done_ = false;
};

}  // namespace ferry::image
