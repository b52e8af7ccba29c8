#include "image/staging_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "image/file.h"
#include "image/temp_output.h"

namespace ferry::image {
namespace {

bool IsEmptyDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") empty = false;
  }
  ::closedir(d);
  return empty;
}

// Removes the regular files directly inside `path` and then `path`: the
// staging directory never holds anything else.
void RemoveFlat(const std::string& path) {
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") ::unlink((path + "/" + n).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(path.c_str());
}

// True for a directory holding regular files only (what a staging
// directory becomes), which RemoveFlat removes entirely.
bool IsFlatDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return false;
  bool flat = true;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    struct stat st;
    if (n != "." && n != ".." &&
        (::lstat((path + "/" + n).c_str(), &st) != 0 || !S_ISREG(st.st_mode))) {
      flat = false;
    }
  }
  ::closedir(d);
  return flat;
}

}  // namespace

Result<StagingDir> StagingDir::Prepare(const std::string& final_path, bool force, bool replace) {
  std::string final = final_path;
  while (final.size() > 1 && final.back() == '/') final.pop_back();
  struct stat st;
  if (::stat(final.c_str(), &st) == 0 && !(S_ISDIR(st.st_mode) && IsEmptyDir(final))) {
    if (!replace) {
      return Error(ErrorCode::kFailedPrecondition,
                   final + " exists and is not an empty directory; choose a new --out");
    }
    if (!S_ISDIR(st.st_mode) || !IsFlatDir(final)) {
      return Error(ErrorCode::kFailedPrecondition,
                   final + " exists and is not a directory of plain files; not replacing it");
    }
  }
  std::string temp = TempNameFor(final);
  if (::lstat(temp.c_str(), &st) == 0) {
    if (!force || !S_ISDIR(st.st_mode)) {
      return Error(ErrorCode::kFailedPrecondition,
                   "a partial import " + temp +
                       " from an interrupted run exists (remove it or use --force)");
    }
    RemoveFlat(temp);
  }
  if (::mkdir(temp.c_str(), 0755) != 0) return ErrnoError("create " + temp);
  StagingDir dir(final, temp);
  dir.replace_ = replace;
  return dir;
}

StagingDir::StagingDir(StagingDir&& other) noexcept
    : final_(std::move(other.final_)),
      temp_(std::move(other.temp_)),
      replace_(other.replace_),
      done_(other.done_) {
  other.done_ = true;
}

StagingDir::~StagingDir() {
  if (!done_) RemoveFlat(temp_);
}

// Moves the old final directory aside, puts the new one in its place and
// only then removes the old one; on failure the old one is put back.
Status StagingDir::ReplaceFinal() {
  const std::string old = temp_.substr(0, temp_.size() - 5) + "-old";  // ".NAME.ferry-old"
  if (::rename(final_.c_str(), old.c_str()) != 0) return ErrnoError("rename " + final_);
  if (::rename(temp_.c_str(), final_.c_str()) != 0) {
    Status s = ErrnoError("rename " + temp_ + " to " + final_);
    ::rename(old.c_str(), final_.c_str());
    return s;
  }
  RemoveFlat(old);
  return OkStatus();
}

Status StagingDir::Commit() {
  struct stat st;
  if (replace_ && ::stat(final_.c_str(), &st) == 0 && !IsEmptyDir(final_)) {
    RETURN_IF_ERROR(ReplaceFinal());
  } else if (::rename(temp_.c_str(), final_.c_str()) != 0) {  // replaces an empty directory
    return ErrnoError("rename " + temp_ + " to " + final_);
  }
  done_ = true;
  Fd dir(::open(DirName(final_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid() && ::fsync(dir.get()) != 0) return ErrnoError("fsync directory of " + final_);
  return OkStatus();
}

}  // namespace ferry::image
