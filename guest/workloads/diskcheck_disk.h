// diskcheck's view of the disk: data blocks checked against the version table in RAM,
// and the header and table on disk. Every I/O error and every mismatch ends the guest
// with a "diskcheck: FAIL reason=..." line (status 1).
#pragma once

#include <stdint.h>

#include "rt/virtio_blk.h"
#include "workloads/diskcheck_layout.h"

namespace guest::diskcheck {

class Disk {
 public:
  // versions: layout.blocks entries (0 = not written by this run); buffer: one block.
  Disk(virtio::BlkDevice& device, const Layout& layout, uint64_t* versions, uint64_t run,
       uint64_t* buffer)
      : device_(device), layout_(layout), versions_(versions), run_(run), buffer_(buffer) {}

  uint64_t written() const { return written_; }
  uint64_t verified() const { return verified_; }
  uint64_t version(uint64_t index) const { return versions_[index]; }

  // Reads data block `index` and checks it holds exactly its recorded version.
  void verify(uint64_t index);
  // Verify-only mode: a block the table says was never written must not carry this run's
  // id either (a write the table missed), and must be all zeros when the writer zeroed
  // the data area first.
  void verify_unwritten(uint64_t index, bool zeroed);
  // Before the first write: DISCARD then WRITE_ZEROES over the data area (each when the
  // device offers it), and a check that a few blocks then read as zeros. Returns
  // kFlagZeroed when the area was zeroed.
  uint64_t prepare(bool* discarded);
  // Verifies the block (once written), then writes its next version.
  void write_block(uint64_t index);
  // Writes a copy of the block's current version with one bit flipped, behind the
  // version table's back (--selftest-corrupt).
  void corrupt(uint64_t index);
  // The versions must add up to the writes made (a stale table would not).
  void verify_version_sum(uint64_t expected_writes) const;

  // The header with state and the table's checksum; for kStateClean the table first,
  // each followed by a flush (when the device has one), so a clean header on disk
  // always describes a table that is there.
  void save(uint64_t state, uint64_t writes, uint64_t flags);
  // Reads the table from disk into the versions array (verify-only mode).
  void load_table();

  // Raw I/O of whole blocks at a sector, with FAIL lines naming `what`.
  void read(uint64_t sector, void* data, uint64_t bytes, const char* what, uint64_t index);
  void write(uint64_t sector, const void* data, uint64_t bytes, const char* what, uint64_t index);
  void flush();

 private:
  void ranged(uint32_t type, uint32_t max_sectors);
  void io(uint32_t type, uint64_t sector, void* data, uint64_t bytes, const char* what,
          uint64_t index);

  virtio::BlkDevice& device_;
  Layout layout_;
  uint64_t* versions_;
  uint64_t run_;
  uint64_t* buffer_;
  uint64_t written_ = 0;
  uint64_t verified_ = 0;
};

}  // namespace guest::diskcheck
