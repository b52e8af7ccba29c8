#include "workloads/diskcheck_layout.h"

namespace guest::diskcheck {
namespace {

constexpr int kHeaderWords = 11;

uint64_t fnv1a(const uint64_t* words, uint64_t count) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t w = words[i];
    for (int b = 0; b < 8; ++b, w >>= 8) {
      h ^= w & 0xff;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

uint64_t table_blocks_for(uint64_t blocks, uint64_t block_size) {
  return (blocks * 8 + block_size - 1) / block_size;
}

}  // namespace

bool plan_layout(uint64_t disk_sectors, uint64_t block_size, uint64_t want_blocks, Layout* out) {
  uint64_t disk_blocks = disk_sectors / (block_size / 512);
  uint64_t blocks = want_blocks;
  if (blocks == 0) {
    // Each data block costs block_size + 8 bytes of table: start from that estimate and
    // step down until header + table + data fit.
    if (disk_blocks < 3) return false;
    blocks = (disk_blocks - 1) * block_size / (block_size + 8);
    while (blocks > 0 && 1 + table_blocks_for(blocks, block_size) + blocks > disk_blocks) --blocks;
  }
  if (blocks == 0 || blocks > 0xffffffffull) return false;
  uint64_t table = table_blocks_for(blocks, block_size);
  if (1 + table + blocks > disk_blocks) return false;
  *out = Layout{block_size, blocks, table};
  return true;
}

void encode_header(const Layout& layout, const HeaderState& state, uint64_t* block) {
  for (uint64_t i = 0; i < layout.block_size / 8; ++i) block[i] = 0;
  block[0] = kHeaderMagic;
  block[1] = kFormatVersion;
  block[2] = layout.block_size;
  block[3] = layout.blocks;
  block[4] = layout.table_blocks;
  block[5] = state.run;
  block[6] = state.state;
  block[7] = state.writes;
  block[8] = state.version_sum;
  block[9] = state.table_checksum;
  block[10] = state.flags;
  block[kHeaderWords] = fnv1a(block, kHeaderWords);
}

const char* decode_header(const uint64_t* block, Layout* layout, HeaderState* state) {
  if (block[0] != kHeaderMagic) return "magic";
  if (block[kHeaderWords] != fnv1a(block, kHeaderWords)) return "checksum";
  if (block[1] != kFormatVersion) return "format_version";
  Layout l{block[2], block[3], block[4]};
  if (l.block_size < 512 || l.block_size % 512 != 0 || l.blocks == 0 ||
      l.table_blocks != table_blocks_for(l.blocks, l.block_size)) {
    return "layout";
  }
  *layout = l;
  *state = HeaderState{block[5], block[6], block[7], block[8], block[9], block[10]};
  return nullptr;
}

uint64_t table_checksum(const uint64_t* versions, uint64_t count) {
  return fnv1a(versions, count);
}

}  // namespace guest::diskcheck
