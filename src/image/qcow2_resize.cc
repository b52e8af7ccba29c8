#include "image/qcow2_resize.h"

#include "base/endian.h"
#include "image/file.h"
#include "image/qcow2_check.h"
#include "image/qcow2_format.h"
#include "image/qcow2_refcount.h"

namespace ferry::image::qcow2 {
namespace {

Result<std::vector<uint64_t>> ReadRawL1(const ImageFile& file, const Header& h) {
  std::vector<uint8_t> bytes(uint64_t(h.l1_size) * 8);
  RETURN_IF_ERROR(file.ReadAt(h.l1_table_offset, bytes, "qcow2 L1 table"));
  std::vector<uint64_t> l1(h.l1_size);
  for (uint64_t i = 0; i < l1.size(); ++i) l1[i] = LoadBE64(&bytes[i * 8]);
  return l1;
}

std::vector<uint8_t> EncodeTable(const std::vector<uint64_t>& entries, uint64_t bytes) {
  std::vector<uint8_t> out(bytes, 0);
  for (size_t i = 0; i < entries.size(); ++i) StoreBE64(&out[i * 8], entries[i]);
  return out;
}

// Unmaps the guest clusters from `first_cluster` on within the L2 table that
// l1[index] points to, rewriting that table in place.
Status TrimL2(const ImageFile& file, const Header& h, uint64_t raw_l1_entry,
              uint64_t first_in_table) {
  if (!(raw_l1_entry & kOflagCopied)) {
    return Error(ErrorCode::kUnimplemented, "shrinking over a shared L2 table is not implemented");
  }
  ASSIGN_OR_RETURN(uint64_t offset, DecodeL1Entry(raw_l1_entry, h));
  std::vector<uint8_t> table(h.cluster_size());
  RETURN_IF_ERROR(file.ReadAt(offset, table, "qcow2 L2 table"));
  for (uint64_t j = first_in_table; j < h.l2_entries(); ++j) StoreBE64(&table[j * 8], 0);
  return file.WriteAt(offset, table);
}

// The fixed header fields resize changes, bytes 24..63, written at once.
Status WriteHeaderFields(const ImageFile& file, const Header& h) {
  uint8_t buf[40];
  StoreBE64(buf + 0, h.size);
  StoreBE32(buf + 8, h.crypt_method);
  StoreBE32(buf + 12, h.l1_size);
  StoreBE64(buf + 16, h.l1_table_offset);
  StoreBE64(buf + 24, h.refcount_table_offset);
  StoreBE32(buf + 32, h.refcount_table_clusters);
  StoreBE32(buf + 36, h.nb_snapshots);
  return file.WriteAt(24, buf);
}

}  // namespace

Status Resize(const std::string& path, uint64_t new_size, bool shrink) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
  ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  Result<Header> header = ReadHeader(file, file_size);
  if (!header.ok()) return std::move(header).error().WithContext(path);
  Header h = std::move(header).value();
  if (h.nb_snapshots)
    return Error(ErrorCode::kUnimplemented,
                 "resizing qcow2 images with internal snapshots is not implemented");
  if (h.has_bitmaps)
    return Error(ErrorCode::kUnimplemented,
                 "resizing qcow2 images with persistent bitmaps is not implemented");
  if (h.incompatible_features & kIncompatCorrupt)
    return Error(ErrorCode::kFailedPrecondition, path + " is marked corrupt");
  if (new_size < h.size && !shrink) {
    return Error(ErrorCode::kInvalidArgument,
                 "the new size is smaller than the image; use --shrink to drop data");
  }
  if (new_size % 512)
    return Error(ErrorCode::kInvalidArgument, "the size must be a multiple of 512");
  const uint64_t cs = h.cluster_size();
  const uint64_t needed = L1EntriesFor(new_size, h.cluster_bits);
  if (needed * 8 > kMaxL1Bytes)
    return Error(ErrorCode::kInvalidArgument, "size too large for this cluster size");
  ASSIGN_OR_RETURN(std::vector<uint64_t> l1, ReadRawL1(file, h));

  if (new_size >= h.size && needed <= h.l1_size) {  // the L1 table is big enough already
    h.size = new_size;
    RETURN_IF_ERROR(WriteHeaderFields(file, h));
    return file.Sync();
  }
  if (new_size < h.size) {
    // Drop the mappings past the new end (rounded up to a cluster, as qemu).
    uint64_t first_cluster = (new_size + cs - 1) / cs;
    uint64_t first_table = first_cluster / h.l2_entries();
    if (first_table < l1.size() && first_cluster % h.l2_entries() && l1[first_table]) {
      RETURN_IF_ERROR(TrimL2(file, h, l1[first_table], first_cluster % h.l2_entries()));
      ++first_table;
    }
    for (uint64_t i = first_table; i < l1.size(); ++i) l1[i] = 0;
  } else {
    l1.resize(needed, 0);
  }
  // Count what the new L1 references, place the L1 and fresh refcounts at
  // the end of the file, then switch the header over.
  Header counting = h;
  counting.l1_size = 0;  // the old L1 location is not kept
  ASSIGN_OR_RETURN(std::vector<uint32_t> counts,
                   CountReferencesForRebuild(file, counting, file_size, l1));
  uint64_t first_free = std::max<uint64_t>(counts.size(), (file_size + cs - 1) / cs);
  counts.resize(first_free, 0);
  const uint64_t l1_bytes = l1.size() * 8;
  const uint64_t l1_clusters = std::max<uint64_t>(1, (l1_bytes + cs - 1) / cs);
  const uint64_t l1_offset = first_free * cs;
  counts.resize(first_free + l1_clusters, 1);
  ASSIGN_OR_RETURN(RefcountPlacement rc, PlaceRefcounts(counts, first_free + l1_clusters, h));
  RETURN_IF_ERROR(file.WriteAt(l1_offset, EncodeTable(l1, l1_clusters * cs)));
  for (const auto& [offset, block] : rc.blocks) RETURN_IF_ERROR(file.WriteAt(offset, block));
  RETURN_IF_ERROR(file.WriteAt(rc.table_offset, rc.table));
  RETURN_IF_ERROR(file.Sync());
  h.size = new_size;
  h.l1_size = uint32_t(l1.size());
  h.l1_table_offset = l1_offset;
  h.refcount_table_offset = rc.table_offset;
  h.refcount_table_clusters = rc.table_clusters;
  RETURN_IF_ERROR(WriteHeaderFields(file, h));
  return file.Sync();
}

}  // namespace ferry::image::qcow2
