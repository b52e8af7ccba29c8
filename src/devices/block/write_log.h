// Which parts of a disk the guest wrote, for copying a disk while the guest
// uses it (block migration). The disk is cut into chunks; the device records
// every write, discard and write-zeroes once it has reached the image, and the
// copier collects the chunks written since its last look.
//
// Recording after the write (never before) is what makes the copy safe: a
// chunk the copier reads before the write lands is recorded again afterwards,
// so it is sent again.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace ferry {

class BlockWriteLog {
 public:
  BlockWriteLog(uint64_t disk_bytes, uint32_t chunk_bytes);

  uint64_t disk_bytes() const { return disk_bytes_; }
  uint32_t chunk_bytes() const { return chunk_bytes_; }
  uint64_t chunks() const { return chunks_; }

  // Thread-safe; called by the device's I/O thread.
  void Record(uint64_t offset, uint64_t length);

  // The chunks written since the previous Collect (one bit a chunk), cleared.
  std::vector<uint64_t> Collect();
  // How many chunks Collect would return now (a snapshot; the guest writes on).
  uint64_t PendingCount() const;
  // Every chunk written since the log was created; Collect never clears it.
  // A copy resumed after a failure must resend these whatever the other side
  // already holds.
  std::vector<uint64_t> WrittenSinceStart() const;

 private:
  uint64_t disk_bytes_;
  uint32_t chunk_bytes_;
  uint64_t chunks_;
  size_t words_;
  std::unique_ptr<std::atomic<uint64_t>[]> pending_;
  std::unique_ptr<std::atomic<uint64_t>[]> since_start_;
};

// One copy of one disk to one destination, which may take several attempts:
// the id lets the destination recognise a retry of the same copy, and the
// log says what changed since the copy began.
struct DiskCopySession {
  DiskCopySession(std::array<uint8_t, 16> session_id, uint64_t disk_bytes, uint32_t chunk_bytes)
      : id(session_id), log(disk_bytes, chunk_bytes) {}
  std::array<uint8_t, 16> id;
  BlockWriteLog log;
};

}  // namespace ferry
