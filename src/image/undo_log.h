// Undoable guest fix-ups. Before ext2fs first writes a range of a disk, the
// range's original bytes are appended to an undo log and synced, and only
// then is the write let through. A process killed while fixing up leaves
// the log behind; RestoreFromUndoLog puts the disk back exactly as it was
// before the fix-ups began, so the next run fixes up again from scratch
// instead of copying the whole disk again.
//
// Log format: "FERRYUND" then records of [offset u64 LE][length u32 LE]
// [CRC32C u32 LE over offset, length and data][data]. A record is synced
// before the write it protects is issued, so a torn last record (short, or
// a CRC mismatch) protects a write that never happened and is ignored.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>

#include "base/fd.h"
#include "base/result.h"

struct struct_io_manager;

namespace ferry::image {

class UndoLog {
 public:
  // Starts an empty log at `log_path` for writes to `disk_path`.
  static Result<UndoLog> Create(const std::string& log_path, const std::string& disk_path);

  const std::string& disk_path() const { return disk_path_; }
  // Saves the original bytes of [offset, offset + length) of the disk
  // (whole sectors, each only the first time), synced, before a write there.
  Status SaveBefore(uint64_t offset, uint64_t length);
  // The ext2fs I/O manager that calls SaveBefore for this log on every write;
  // valid while an UndoLogScope for it is alive (ext2fs gives the manager no
  // argument of ours at open, so the scope names the log).
  static struct_io_manager* Manager();

 private:
  UndoLog(Fd log, Fd disk, std::string disk_path)
      : log_(std::move(log)), disk_(std::move(disk)), disk_path_(std::move(disk_path)) {}
  Fd log_;
  Fd disk_;
  std::string disk_path_;
  uint64_t end_ = 0;                    // bytes in the log
  std::unordered_set<uint64_t> saved_;  // sectors already in the log
};

// Makes UndoLog::Manager() open channels that log into `log`.
class UndoLogScope {
 public:
  explicit UndoLogScope(UndoLog* log);
  ~UndoLogScope();
  UndoLogScope(const UndoLogScope&) = delete;
  UndoLogScope& operator=(const UndoLogScope&) = delete;

 private:
  UndoLog* previous_;
};

// Applies the complete records of the log at `log_path` to `disk_path` and
// syncs it. Returns how many records were applied.
Result<uint64_t> RestoreFromUndoLog(const std::string& log_path, const std::string& disk_path);

}  // namespace ferry::image
