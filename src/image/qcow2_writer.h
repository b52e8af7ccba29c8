// Writes new qcow2 images (v2 "compat=0.10" or v3 "compat=1.1").
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace ferry::image {

Result<std::unique_ptr<ImageWriter>> CreateQcow2(const std::string& path, uint64_t size,
                                                 const CreateOptions& options);
// Continues an image CreateQcow2 began, from a writer's SaveState().
Result<std::unique_ptr<ImageWriter>> ResumeQcow2(const std::string& path, uint64_t size,
                                                 const CreateOptions& options,
                                                 std::span<const uint8_t> state);

// The file size CreateQcow2's writer produces for a disk of `size` bytes with
// `data_clusters` plain clusters spread over `l2_tables` L2 tables: what
// `measure` reports.
Result<uint64_t> Qcow2FileSize(uint64_t size, const CreateOptions& options, uint64_t data_clusters,
                               uint64_t l2_tables);
// The cluster size the writer would use with `options`.
Result<uint64_t> Qcow2ClusterSize(const CreateOptions& options);

}  // namespace ferry::image
