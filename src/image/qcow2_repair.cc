#include "image/qcow2_repair.h"

#include <algorithm>

#include "base/endian.h"
#include "image/file.h"
#include "image/qcow2_check.h"
#include "image/qcow2_format.h"
#include "image/qcow2_refcount.h"

namespace ferry::image::qcow2 {
namespace {

Result<std::vector<uint64_t>> ReadTable(const ImageFile& file, uint64_t offset, uint64_t entries,
                                        const char* what) {
  std::vector<uint8_t> bytes(entries * 8);
  RETURN_IF_ERROR(file.ReadAt(offset, bytes, what));
  std::vector<uint64_t> out(entries);
  for (uint64_t i = 0; i < entries; ++i) out[i] = LoadBE64(&bytes[i * 8]);
  return out;
}

Status WriteTable(const ImageFile& file, uint64_t offset, const std::vector<uint64_t>& entries) {
  std::vector<uint8_t> bytes(entries.size() * 8);
  for (size_t i = 0; i < entries.size(); ++i) StoreBE64(&bytes[i * 8], entries[i]);
  return file.WriteAt(offset, bytes);
}

// The refcounts stored on disk for clusters [0, n); unreadable refcount
// blocks (misaligned, past the end) count as zeros.
Result<std::vector<uint64_t>> StoredRefcounts(const ImageFile& file, const Header& h,
                                              uint64_t file_size, uint64_t n) {
  const uint64_t cs = h.cluster_size();
  const uint64_t per_block = h.refcounts_per_block();
  ASSIGN_OR_RETURN(std::vector<uint64_t> table,
                   ReadTable(file, h.refcount_table_offset,
                             uint64_t(h.refcount_table_clusters) * cs / 8, "qcow2 refcount table"));
  std::vector<uint64_t> out(n, 0);
  std::vector<uint8_t> block(cs);
  for (uint64_t b = 0; b < table.size() && b * per_block < n; ++b) {
    uint64_t offset = table[b];
    if (offset == 0 || offset % cs || offset > file_size || cs > file_size - offset) continue;
    RETURN_IF_ERROR(file.ReadAt(offset, block, "qcow2 refcount block"));
    for (uint64_t i = 0; i < per_block && b * per_block + i < n; ++i) {
      out[b * per_block + i] = GetRefcount(block.data(), i, h.refcount_order);
    }
  }
  return out;
}

// Sets each active L1 and L2 entry's "copied" flag to (refcount == 1);
// returns how many entries changed.
Result<uint64_t> FixCopiedFlags(const ImageFile& file, const Header& h,
                                const std::vector<uint32_t>& counts) {
  const uint64_t cs = h.cluster_size();
  auto want = [&](uint64_t entry, uint64_t host) {
    bool single = host / cs < counts.size() && counts[host / cs] == 1;
    return single ? entry | kOflagCopied : entry & ~kOflagCopied;
  };
  uint64_t fixed = 0;
  ASSIGN_OR_RETURN(std::vector<uint64_t> l1,
                   ReadTable(file, h.l1_table_offset, h.l1_size, "qcow2 L1 table"));
  bool l1_changed = false;
  for (uint64_t& e : l1) {
    if (e == 0) continue;
    ASSIGN_OR_RETURN(uint64_t l2_offset, DecodeL1Entry(e, h));
    if (l2_offset == 0) continue;
    ASSIGN_OR_RETURN(std::vector<uint64_t> l2,
                     ReadTable(file, l2_offset, h.l2_entries(), "qcow2 L2 table"));
    bool l2_changed = false;
    for (uint64_t& raw : l2) {
      if (raw == 0 || (raw & kOflagCompressed) || (raw & kOffsetMask) == 0) continue;
      uint64_t fixed_raw = want(raw, raw & kOffsetMask);
      if (fixed_raw != raw) {
        raw = fixed_raw;
        l2_changed = true;
        ++fixed;
      }
    }
    if (l2_changed) RETURN_IF_ERROR(WriteTable(file, l2_offset, l2));
    uint64_t fixed_e = want(e, l2_offset);
    if (fixed_e != e) {
      e = fixed_e;
      l1_changed = true;
      ++fixed;
    }
  }
  if (l1_changed) RETURN_IF_ERROR(WriteTable(file, h.l1_table_offset, l1));
  return fixed;
}

}  // namespace

Result<RepairResult> Repair(const std::string& path, RepairMode mode) {
  ASSIGN_OR_RETURN(CheckReport before, Check(path));
  RepairResult result;
  if (before.corruptions == 0 && before.leaks == 0) return result;
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
  ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  Result<Header> header = ReadHeader(file, file_size);
  if (!header.ok()) return std::move(header).error().WithContext(path);
  const Header& h = *header;
  const uint64_t cs = h.cluster_size();
  ASSIGN_OR_RETURN(std::vector<uint64_t> l1,
                   ReadTable(file, h.l1_table_offset, h.l1_size, "qcow2 L1 table"));
  Result<std::vector<uint32_t>> referenced = CountReferencesForRebuild(file, h, file_size, l1);
  if (!referenced.ok()) {
    return Error(ErrorCode::kUnimplemented,
                 "cannot repair: " + referenced.error().message() +
                     "; repairing broken L1/L2 entries is not implemented");
  }
  std::vector<uint32_t> counts = std::move(*referenced);
  const uint64_t first_free = std::max<uint64_t>(counts.size(), (file_size + cs - 1) / cs);
  counts.resize(first_free, 0);
  if (mode == RepairMode::kLeaks) {
    // Only lower refcounts that are too high; keep the ones too low as they are.
    ASSIGN_OR_RETURN(std::vector<uint64_t> stored, StoredRefcounts(file, h, file_size, first_free));
    for (uint64_t c = 0; c < first_free; ++c) {
      if (stored[c] < counts[c]) counts[c] = uint32_t(stored[c]);
    }
  }
  ASSIGN_OR_RETURN(RefcountPlacement rc, PlaceRefcounts(counts, first_free, h));
  for (const auto& [offset, block] : rc.blocks) RETURN_IF_ERROR(file.WriteAt(offset, block));
  RETURN_IF_ERROR(file.WriteAt(rc.table_offset, rc.table));
  RETURN_IF_ERROR(file.Sync());
  // The switch: refcount_table_offset (48) and refcount_table_clusters (56).
  uint8_t fields[12];
  StoreBE64(fields, rc.table_offset);
  StoreBE32(fields + 8, rc.table_clusters);
  RETURN_IF_ERROR(file.WriteAt(48, fields));
  RETURN_IF_ERROR(file.Sync());
  result.leaks_fixed = before.leaks;
  if (mode == RepairMode::kAll) {
    RETURN_IF_ERROR(FixCopiedFlags(file, h, counts));
    if (h.version >= 3 && (h.incompatible_features & (kIncompatDirty | kIncompatCorrupt))) {
      uint8_t features[8];
      StoreBE64(features, h.incompatible_features & ~(kIncompatDirty | kIncompatCorrupt));
      RETURN_IF_ERROR(file.WriteAt(72, features));
    }
    RETURN_IF_ERROR(file.Sync());
    result.corruptions_fixed = before.corruptions;
  }
  return result;
}

}  // namespace ferry::image::qcow2
