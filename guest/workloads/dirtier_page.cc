#include "workloads/dirtier_page.h"

namespace guest::dirtier {
namespace {

// Words 2.. form an arithmetic sequence from a per-(index, version) seed: one add per
// word to write or check, yet two different (index, version) pairs differ in every word.
constexpr uint64_t kStep = 0xd6e8feb86659fd93ull;

uint64_t seed(uint64_t index, uint64_t version) {
  return (index * 0x9e3779b97f4a7c15ull) ^ (version * 0xc2b2ae3d27d4eb4full) ^
         0x5bd1e9955bd1e995ull;
}

}  // namespace

void fill_page(uint64_t* page, uint64_t index, uint64_t version) {
  page[0] = kIndexMagic | index;
  page[1] = version;
  uint64_t value = seed(index, version) + 2 * kStep;
  for (uint64_t k = 2; k < kPageWords; ++k, value += kStep) page[k] = value;
}

bool verify_page(const uint64_t* page, uint64_t index, uint64_t version, Mismatch* mismatch) {
  // Fast path without branches in the loop; find the word only when something differs.
  uint64_t diff = (page[0] ^ (kIndexMagic | index)) | (page[1] ^ version);
  uint64_t value = seed(index, version) + 2 * kStep;
  for (uint64_t k = 2; k < kPageWords; ++k, value += kStep) diff |= page[k] ^ value;
  if (diff == 0) return true;

  mismatch->found_index = page[0] & 0xffffffffu;
  mismatch->found_version = page[1];
  mismatch->word = 0;
  if (page[0] == (kIndexMagic | index)) {
    mismatch->word = page[1] != version ? 1 : 2;
    value = seed(index, version) + 2 * kStep;
    for (uint64_t k = 2; k < kPageWords && page[1] == version; ++k, value += kStep) {
      if (page[k] != value) {
        mismatch->word = k;
        break;
      }
    }
  }
  return false;
}

}  // namespace guest::dirtier
