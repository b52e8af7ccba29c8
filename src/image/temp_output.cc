#include "image/temp_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/fd.h"
#include "image/file.h"

namespace ferry::image {

std::string TempNameFor(const std::string& final_path) {
  size_t slash = final_path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : final_path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
  return dir + "." + base + ".ferry-part";
}

Result<TempOutput> TempOutput::Prepare(const std::string& final_path, bool force, bool resume) {
  struct stat st;
  if (::stat(final_path.c_str(), &st) == 0) {
    if (!force) {
      return Error(ErrorCode::kFailedPrecondition,
                   final_path + " exists (use --force to replace it)");
    }
    if (!S_ISREG(st.st_mode)) {
      return Error(ErrorCode::kFailedPrecondition,
                   final_path + " exists and is not a regular file; not replacing it");
    }
  }
  std::string temp = TempNameFor(final_path);
  if (::stat(temp.c_str(), &st) == 0 && !(resume && !force)) {
    if (!force) {
      return Error(ErrorCode::kFailedPrecondition,
                   "a partial output " + temp +
                       " from an interrupted run exists (remove it or use --force)");
    }
    if (::unlink(temp.c_str()) != 0) return ErrnoError("remove " + temp);
  }
  return TempOutput(final_path, temp);
}

TempOutput::TempOutput(TempOutput&& other) noexcept
    : final_(std::move(other.final_)),
      temp_(std::move(other.temp_)),
      sidecars_(std::move(other.sidecars_)),
      done_(other.done_) {
  other.done_ = true;
  other.sidecars_.clear();
}

TempOutput::~TempOutput() {
  if (!done_) ::unlink(temp_.c_str());
  for (const std::string& s : sidecars_) ::unlink(s.c_str());
}

Status TempOutput::Commit() {
  if (::rename(temp_.c_str(), final_.c_str()) != 0)
    return ErrnoError("rename " + temp_ + " to " + final_);
  done_ = true;
  for (const std::string& s : sidecars_) ::unlink(s.c_str());
  sidecars_.clear();
  int dir = ::open(DirName(final_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    Fd owned(dir);
    if (::fsync(dir) != 0) return ErrnoError("fsync directory of " + final_);
  }
  return OkStatus();
}

}  // namespace ferry::image
