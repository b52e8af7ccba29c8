// Consistency check of a qcow2 image, after qemu-img check: every reference
// to a host cluster (header, L1/L2 tables, data, refcount structures,
// snapshot tables) is counted and compared with the stored refcounts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "image/qcow2_format.h"

namespace ferry::image::qcow2 {

struct CheckReport {
  uint64_t corruptions = 0;  // refcount too low, bad entries: data at risk
  uint64_t leaks = 0;        // refcount too high: wasted space only
  std::vector<std::string> messages;
  uint64_t image_end_offset = 0;
  uint64_t total_clusters = 0;  // guest clusters
  uint64_t allocated_clusters = 0;
  uint64_t fragmented_clusters = 0;
  uint64_t compressed_clusters = 0;
};

// What every host cluster should have as refcount, computed from the
// metadata alone; problems found on the way are added to `report`.
struct References {
  std::vector<uint32_t> counts;
};

Result<CheckReport> Check(const std::string& path);

// Counts the references of the active L1 table `l1` (and the header and the
// snapshot table), without refcount structures: what resize and repair
// rebuild refcounts from. Fails on any corruption.
Result<std::vector<uint32_t>> CountReferencesForRebuild(const ImageFile& file, const Header& h,
                                                        uint64_t file_size,
                                                        const std::vector<uint64_t>& l1);

}  // namespace ferry::image::qcow2
