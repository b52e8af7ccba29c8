// Builds a complete qcow2 refcount structure (table + blocks) for known
// per-cluster reference counts, placed at the end of the file. Used when
// writing a new image, when resizing, and when repairing.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "base/result.h"
#include "image/qcow2_format.h"

namespace ferry::image::qcow2 {

struct RefcountPlacement {
  uint64_t table_offset = 0;
  uint32_t table_clusters = 0;
  std::vector<uint8_t> table;                                     // encoded refcount table
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> blocks;  // (offset, encoded block)
  uint64_t end = 0;  // first byte after the placed structures
};

// How many refcount blocks and refcount table clusters cover an image whose
// other clusters end at `first_free_cluster`, themselves included.
std::pair<uint64_t, uint64_t> RefcountClustersFor(uint64_t first_free_cluster,
                                                  const Header& header);

// `counts[i]` is the refcount of host cluster i for i < first_free_cluster.
// Places the blocks and then the table from first_free_cluster on, adds
// their own references to `counts`, and encodes everything with the
// header's cluster size and refcount width.
Result<RefcountPlacement> PlaceRefcounts(std::vector<uint32_t>& counts, uint64_t first_free_cluster,
                                         const Header& header);

}  // namespace ferry::image::qcow2
