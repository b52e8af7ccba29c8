// One ext2/3/4 filesystem inside a disk image, opened through libext2fs at
// a byte offset (a partition), without mounting and without privileges.
// Files are read and replaced in place; nothing else is touched.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

struct struct_ext2_filsys;

namespace ferry::image {

class UndoLog;

class ExtFs {
 public:
  // Fails (kNotFound) when there is no ext filesystem at `offset`. With
  // `undo` (for `disk`), every write is saved in that undo log first.
  static Result<ExtFs> Open(const std::string& disk, uint64_t offset, bool writable,
                            UndoLog* undo = nullptr);

  ExtFs(ExtFs&&) noexcept;
  ~ExtFs();

  std::string uuid() const;  // "0a1b...-..." as blkid prints it
  std::string label() const;
  // The journal holds transactions not yet applied: writing now would lose
  // or corrupt them.
  bool needs_recovery() const;

  // nullopt when the path does not exist; errors for anything but a regular
  // file of at most `max` bytes.
  Result<std::optional<std::string>> ReadFile(const std::string& path, uint64_t max) const;
  // Replaces the contents of an existing regular file.
  Status WriteFile(const std::string& path, const std::string& contents);
  // Names in a directory (empty if it does not exist).
  Result<std::vector<std::string>> List(const std::string& dir) const;
  // Writes everything back and closes.
  Status Close();

 private:
  explicit ExtFs(struct_ext2_filsys* fs) : fs_(fs) {}
  Result<std::optional<unsigned>> Lookup(const std::string& path) const;
  struct_ext2_filsys* fs_;
};

}  // namespace ferry::image
