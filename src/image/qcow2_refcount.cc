#include "image/qcow2_refcount.h"

#include <algorithm>

#include "base/endian.h"

namespace ferry::image::qcow2 {

std::pair<uint64_t, uint64_t> RefcountClustersFor(uint64_t first_free_cluster, const Header& h) {
  const uint64_t cs = h.cluster_size();
  const uint64_t per_block = h.refcounts_per_block();
  // The structures must cover themselves: grow the estimate until it holds.
  uint64_t blocks = 0, table_clusters = 0;
  for (;;) {
    uint64_t total = first_free_cluster + blocks + table_clusters;
    uint64_t need_blocks = (total + per_block - 1) / per_block;
    uint64_t need_table = (need_blocks * 8 + cs - 1) / cs;
    if (need_blocks <= blocks && need_table <= table_clusters) break;
    blocks = std::max(blocks, need_blocks);
    table_clusters = std::max(table_clusters, need_table);
  }
  return {blocks, table_clusters};
}

Result<RefcountPlacement> PlaceRefcounts(std::vector<uint32_t>& counts, uint64_t first_free_cluster,
                                         const Header& h) {
  const uint64_t cs = h.cluster_size();
  const uint64_t per_block = h.refcounts_per_block();
  if (counts.size() > first_free_cluster) {
    return Error(ErrorCode::kInternal, "refcounts past the first free cluster");
  }
  auto [blocks, table_clusters] = RefcountClustersFor(first_free_cluster, h);
  if (table_clusters * cs > kMaxRefcountTableBytes) {
    return Error(ErrorCode::kInvalidArgument, "image too large for a qcow2 refcount table");
  }
  counts.resize(first_free_cluster + blocks + table_clusters, 0);
  for (uint64_t i = first_free_cluster; i < counts.size(); ++i) counts[i] = 1;

  const uint64_t max_refcount =
      h.refcount_order == 6 ? ~uint64_t(0) : (uint64_t(1) << h.refcount_bits()) - 1;
  RefcountPlacement p;
  p.table_offset = (first_free_cluster + blocks) * cs;
  p.table_clusters = uint32_t(table_clusters);
  p.table.assign(table_clusters * cs, 0);
  for (uint64_t b = 0; b < blocks; ++b) {
    std::vector<uint8_t> block(cs, 0);
    for (uint64_t i = 0; i < per_block && b * per_block + i < counts.size(); ++i) {
      uint64_t count = counts[b * per_block + i];
      if (count > max_refcount) {
        return Error(ErrorCode::kInvalidArgument, "a cluster has more references than " +
                                                      std::to_string(h.refcount_bits()) +
                                                      "-bit refcounts can hold");
      }
      SetRefcount(block.data(), i, h.refcount_order, count);
    }
    uint64_t offset = (first_free_cluster + b) * cs;
    StoreBE64(&p.table[b * 8], offset);
    p.blocks.emplace_back(offset, std::move(block));
  }
  p.end = counts.size() * cs;
  return p;
}

}  // namespace ferry::image::qcow2
