// The content of a dirtier page. Every byte depends on the page's index and version, so
// a page that is stale (older version), misplaced (another index) or damaged anywhere
// fails verification.
#pragma once

#include <stdint.h>

#include "rt/memory.h"

namespace guest::dirtier {

inline constexpr uint64_t kPageWords = kPageSize / sizeof(uint64_t);
inline constexpr uint64_t kIndexMagic = 0xd1a7f00dull << 32;  // top half of word 0

// word 0 = kIndexMagic | index, word 1 = version, word k = f(index, version, k).
void fill_page(uint64_t* page, uint64_t index, uint64_t version);

struct Mismatch {
  uint64_t found_index;    // low half of word 0
  uint64_t found_version;  // word 1
  uint64_t word;           // first word that differs
};

// True when the page holds exactly the content fill_page(index, version) wrote.
bool verify_page(const uint64_t* page, uint64_t index, uint64_t version, Mismatch* mismatch);

}  // namespace guest::dirtier
