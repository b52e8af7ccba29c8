#include "workloads/diskcheck_block.h"

namespace guest::diskcheck {
namespace {

constexpr uint64_t kStep = 0xd6e8feb86659fd93ull;
constexpr uint64_t kFirstPatternWord = 3;

uint64_t seed(uint64_t index, uint64_t version, uint64_t run) {
  return (index * 0x9e3779b97f4a7c15ull) ^ (version * 0xc2b2ae3d27d4eb4full) ^
         (run * 0x165667b19e3779f9ull) ^ 0x5bd1e9955bd1e995ull;
}

}  // namespace

void fill_block(uint64_t* block, uint64_t words, uint64_t index, uint64_t version, uint64_t run) {
  block[0] = kBlockMagic | index;
  block[1] = version;
  block[2] = run;
  uint64_t value = seed(index, version, run) + kFirstPatternWord * kStep;
  for (uint64_t k = kFirstPatternWord; k < words; ++k, value += kStep) block[k] = value;
}

bool verify_block(const uint64_t* block, uint64_t words, uint64_t index, uint64_t version,
                  uint64_t run, Mismatch* mismatch) {
  uint64_t diff = (block[0] ^ (kBlockMagic | index)) | (block[1] ^ version) | (block[2] ^ run);
  uint64_t value = seed(index, version, run) + kFirstPatternWord * kStep;
  for (uint64_t k = kFirstPatternWord; k < words; ++k, value += kStep) diff |= block[k] ^ value;
  if (diff == 0) return true;

  bool magic = (block[0] & ~0xffffffffull) == kBlockMagic;
  mismatch->found_index = magic ? (block[0] & 0xffffffffull) : ~0ull;
  mismatch->found_version = block[1];
  mismatch->found_run = block[2];
  mismatch->word = 0;
  if (block[0] != (kBlockMagic | index)) return false;
  if (block[1] != version) {
    mismatch->word = 1;
    return false;
  }
  if (block[2] != run) {
    mismatch->word = 2;
    return false;
  }
  value = seed(index, version, run) + kFirstPatternWord * kStep;
  for (uint64_t k = kFirstPatternWord; k < words; ++k, value += kStep) {
    if (block[k] != value) {
      mismatch->word = k;
      break;
    }
  }
  return false;
}

bool written_by_run(const uint64_t* block, uint64_t index, uint64_t run) {
  return block[0] == (kBlockMagic | index) && block[2] == run;
}

}  // namespace guest::diskcheck
