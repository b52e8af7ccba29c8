// diskcheck's on-disk format (see README.md "diskcheck"), in block-size units from the
// start of the disk:
//   block 0               header: the words below, the rest of the block zero
//   blocks 1 .. T         version table: one little-endian u64 per data block
//   blocks T+1 .. T+N     data blocks 0 .. N-1 (diskcheck_block.h)
// The header says whether the table on disk is current: kStateWriting while a writer
// runs (the table on disk is stale), kStateClean once the final table was written and
// flushed. --verify-only trusts only a clean disk.
#pragma once

#include <stdint.h>

namespace guest::diskcheck {

inline constexpr uint64_t kHeaderMagic = 0x3143445952524546ull;  // "FERRYDC1"
inline constexpr uint64_t kFormatVersion = 1;
inline constexpr uint64_t kStateWriting = 1;
inline constexpr uint64_t kStateClean = 2;
inline constexpr uint64_t kFlagZeroed = 1;  // the writer zeroed the data area first

struct Layout {
  uint64_t block_size = 0;  // bytes, a multiple of 512
  uint64_t blocks = 0;      // data blocks
  uint64_t table_blocks = 0;

  uint64_t sectors_per_block() const { return block_size / 512; }
  uint64_t table_sector() const { return sectors_per_block(); }
  uint64_t data_sector(uint64_t index) const {
    return (1 + table_blocks + index) * sectors_per_block();
  }
  uint64_t total_blocks() const { return 1 + table_blocks + blocks; }
};

// The layout for a disk of disk_sectors: want_blocks data blocks, or as many as fit when
// want_blocks is 0. False when not even one (or not want_blocks) fits.
bool plan_layout(uint64_t disk_sectors, uint64_t block_size, uint64_t want_blocks, Layout* out);

struct HeaderState {
  uint64_t run = 0;  // the writer's run id
  uint64_t state = 0;
  uint64_t writes = 0;       // block writes the run made
  uint64_t version_sum = 0;  // equals writes: each write raises one version by one
  uint64_t table_checksum = 0;
  uint64_t flags = 0;
};

// Header words: magic, format version, block size, blocks, table blocks, run, state,
// writes, version sum, table checksum, flags, then an FNV-1a checksum of those eleven.
void encode_header(const Layout& layout, const HeaderState& state, uint64_t* block);
// nullptr when the header is valid, else what is wrong with it ("magic", "checksum",
// "format_version", "layout").
const char* decode_header(const uint64_t* block, Layout* layout, HeaderState* state);

// FNV-1a over the 64-bit words of the version table.
uint64_t table_checksum(const uint64_t* versions, uint64_t count);

}  // namespace guest::diskcheck
