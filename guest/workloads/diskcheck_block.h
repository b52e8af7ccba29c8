// The content of a diskcheck data block, dirtier's page design carried to a disk:
// word 0 = kBlockMagic | block index, word 1 = version, word 2 = run id, every other
// word a function of (index, version, run id, word number). A stale block (older
// version), a misplaced one (another index), one left by another run, or one damaged
// anywhere differs.
#pragma once

#include <stdint.h>

namespace guest::diskcheck {

inline constexpr uint64_t kBlockMagic = 0xd15cb10cull << 32;  // top half of word 0

// words = block size / 8 (at least 4).
void fill_block(uint64_t* block, uint64_t words, uint64_t index, uint64_t version, uint64_t run);

struct Mismatch {
  uint64_t found_index;    // low half of word 0 (with the magic: else ~0)
  uint64_t found_version;  // word 1
  uint64_t found_run;      // word 2
  uint64_t word;           // first word that differs
};

// True when the block holds exactly what fill_block(index, version, run) wrote.
bool verify_block(const uint64_t* block, uint64_t words, uint64_t index, uint64_t version,
                  uint64_t run, Mismatch* mismatch);

// True when the block carries the magic, the index and this run id, whatever its
// version: it was written by this run (used to catch writes the version table missed).
bool written_by_run(const uint64_t* block, uint64_t index, uint64_t run);

}  // namespace guest::diskcheck
