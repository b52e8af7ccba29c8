// qcow2 check: count every reference to every host cluster from the
// metadata, then compare with the refcounts stored on disk. Refcount below
// the references is corruption (a later write could reuse a cluster still in
// use); above is a leak (space wasted). Also checks the "copied" flags.
#include "image/qcow2_check.h"

#include <map>

#include "base/endian.h"

namespace ferry::image::qcow2 {
namespace {

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

class Walker {
 public:
  Walker(const ImageFile& file, const Header& h, uint64_t file_size, CheckReport& report)
      : file_(file), h_(h), file_size_(file_size), cs_(h.cluster_size()), r_(report) {}

  std::vector<uint32_t>& counts() { return counts_; }
  // Active entries whose "copied" flag must match refcount == 1.
  std::vector<std::pair<uint64_t, std::string>> copied_checks;

  void Corrupt(const std::string& message) {
    ++r_.corruptions;
    r_.messages.push_back("ERROR " + message);
  }

  // One more reference to every cluster in [offset, offset + length).
  void Ref(uint64_t offset, uint64_t length) {
    if (length == 0) return;
    uint64_t last = (offset + length - 1) / cs_;
    if (last >= counts_.size()) counts_.resize(last + 1, 0);
    for (uint64_t c = offset / cs_; c <= last; ++c) ++counts_[c];
  }

  bool InFile(uint64_t offset, uint64_t length) const {
    return offset <= file_size_ && length <= file_size_ - offset;
  }

  Status WalkL1(const std::vector<uint64_t>& raw_l1, bool active) {
    for (uint64_t i = 0; i < raw_l1.size(); ++i) {
      if (raw_l1[i] == 0) continue;
      Result<uint64_t> l2 = DecodeL1Entry(raw_l1[i], h_);
      if (!l2.ok()) {
        Corrupt("l1 index " + std::to_string(i) + ": " + l2.error().message());
        continue;
      }
      if (*l2 == 0) continue;
      if (!InFile(*l2, cs_)) {
        Corrupt("L2 table of l1 index " + std::to_string(i) + " at " + Hex(*l2) +
                " lies past the end of the file");
        continue;
      }
      Ref(*l2, cs_);
      if (active)
        copied_checks.emplace_back(raw_l1[i], "L2 cluster: l1_index=" + std::to_string(i));
      RETURN_IF_ERROR(WalkL2(*l2, i, active));
    }
    return OkStatus();
  }

  Status WalkL2(uint64_t table_offset, uint64_t l1_index, bool active) {
    std::vector<uint8_t> table(cs_);
    RETURN_IF_ERROR(file_.ReadAt(table_offset, table, "qcow2 L2 table"));
    for (uint64_t j = 0; j < h_.l2_entries(); ++j) {
      uint64_t raw = LoadBE64(&table[j * 8]);
      if (raw == 0) continue;
      uint64_t guest = (l1_index * h_.l2_entries() + j) * cs_;
      Result<L2Entry> e = DecodeL2Entry(raw, h_);
      if (!e.ok()) {
        Corrupt("guest offset " + Hex(guest) + ": " + e.error().message());
        continue;
      }
      switch (e->kind) {
        case ClusterKind::kUnallocated:
        case ClusterKind::kZeroPlain:
          continue;
        case ClusterKind::kCompressed:
          if (e->host_offset >= file_size_) {
            Corrupt("compressed cluster for guest offset " + Hex(guest) + " at " +
                    Hex(e->host_offset) + " lies past the end of the file");
            continue;
          }
          Ref(e->host_offset, e->compressed_size);
          if (active) {
            ++r_.allocated_clusters;
            ++r_.compressed_clusters;
          }
          continue;
        case ClusterKind::kNormal:
        case ClusterKind::kZeroAllocated:
          if (e->host_offset >= file_size_) {
            Corrupt("data cluster for guest offset " + Hex(guest) + " at " + Hex(e->host_offset) +
                    " lies past the end of the file");
            continue;
          }
          Ref(e->host_offset, cs_);
          if (active) {
            ++r_.allocated_clusters;
            if (next_contiguous_ && e->host_offset != next_contiguous_) ++r_.fragmented_clusters;
            next_contiguous_ = e->host_offset + cs_;
            copied_checks.emplace_back(raw, "data cluster: l2_entry=" + Hex(raw));
          }
          continue;
      }
    }
    return OkStatus();
  }

  Result<std::vector<uint64_t>> ReadL1(uint64_t offset, uint32_t entries) {
    std::vector<uint8_t> bytes(uint64_t(entries) * 8);
    RETURN_IF_ERROR(file_.ReadAt(offset, bytes, "qcow2 L1 table"));
    std::vector<uint64_t> l1(entries);
    for (uint64_t i = 0; i < entries; ++i) l1[i] = LoadBE64(&bytes[i * 8]);
    return l1;
  }

  // Header, L1, snapshots: everything except the refcount structures.
  Status WalkImage(const std::vector<uint64_t>& active_l1) {
    Ref(0, cs_);
    Ref(h_.l1_table_offset, uint64_t(h_.l1_size) * 8);
    RETURN_IF_ERROR(WalkL1(active_l1, true));
    if (h_.nb_snapshots == 0) return OkStatus();
    uint64_t table_bytes = 0;
    ASSIGN_OR_RETURN(std::vector<Snapshot> snapshots,
                     ReadSnapshots(file_, h_, file_size_, &table_bytes));
    Ref(h_.snapshots_offset, table_bytes);
    for (const Snapshot& s : snapshots) {
      Ref(s.l1_table_offset, uint64_t(s.l1_size) * 8);
      ASSIGN_OR_RETURN(std::vector<uint64_t> l1, ReadL1(s.l1_table_offset, s.l1_size));
      RETURN_IF_ERROR(WalkL1(l1, false));
    }
    return OkStatus();
  }

 private:
  const ImageFile& file_;
  const Header& h_;
  uint64_t file_size_;
  uint64_t cs_;
  CheckReport& r_;
  std::vector<uint32_t> counts_;
  uint64_t next_contiguous_ = 0;
};

// Reads the refcount table and blocks: refcount block index -> bytes.
Result<std::map<uint64_t, std::vector<uint8_t>>> ReadRefcounts(const ImageFile& file,
                                                               const Header& h, Walker& w) {
  const uint64_t cs = h.cluster_size();
  std::vector<uint8_t> table(uint64_t(h.refcount_table_clusters) * cs);
  RETURN_IF_ERROR(file.ReadAt(h.refcount_table_offset, table, "qcow2 refcount table"));
  w.Ref(h.refcount_table_offset, table.size());
  std::map<uint64_t, std::vector<uint8_t>> blocks;
  for (uint64_t i = 0; i < table.size() / 8; ++i) {
    uint64_t offset = LoadBE64(&table[i * 8]);
    if (offset == 0) continue;
    if (offset & (cs - 1)) {
      w.Corrupt("refcount block " + std::to_string(i) +
                " is not cluster aligned; refcount table entry corrupted");
      continue;
    }
    if (!w.InFile(offset, cs)) {
      w.Corrupt("refcount block " + std::to_string(i) + " is outside image");
      continue;
    }
    w.Ref(offset, cs);
    std::vector<uint8_t> block(cs);
    RETURN_IF_ERROR(file.ReadAt(offset, block, "qcow2 refcount block"));
    blocks.emplace(i, std::move(block));
  }
  return blocks;
}

}  // namespace

Result<CheckReport> Check(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  Result<Header> header = ReadHeader(file, file_size);
  if (!header.ok()) return std::move(header).error().WithContext(path);
  const Header& h = *header;
  if (h.has_bitmaps) {
    return Error(ErrorCode::kUnimplemented,
                 "checking qcow2 images with persistent dirty bitmaps is not implemented");
  }
  const uint64_t cs = h.cluster_size();
  CheckReport report;
  report.total_clusters = (h.size + cs - 1) / cs;
  Walker w(file, h, file_size, report);
  ASSIGN_OR_RETURN(std::vector<uint64_t> l1, w.ReadL1(h.l1_table_offset, h.l1_size));
  RETURN_IF_ERROR(w.WalkImage(l1));
  ASSIGN_OR_RETURN(auto blocks, ReadRefcounts(file, h, w));

  const uint64_t per_block = h.refcounts_per_block();
  auto stored = [&](uint64_t cluster) -> uint64_t {
    auto it = blocks.find(cluster / per_block);
    return it == blocks.end()
               ? 0
               : GetRefcount(it->second.data(), cluster % per_block, h.refcount_order);
  };
  std::vector<uint32_t>& counts = w.counts();
  uint64_t last_used = 0;
  // Like qemu, stored refcounts past the end of the file are not leaks:
  // those clusters hold nothing.
  uint64_t end = std::max<uint64_t>(counts.size(), (file_size + cs - 1) / cs);
  for (uint64_t c = 0; c < end; ++c) {
    uint64_t expected = c < counts.size() ? counts[c] : 0;
    uint64_t have = stored(c);
    if (expected || have) last_used = c + 1;
    if (have == expected) continue;
    std::string what = "cluster " + std::to_string(c) + " refcount=" + std::to_string(have) +
                       " reference=" + std::to_string(expected);
    if (have < expected) {
      w.Corrupt(what);
    } else {
      ++report.leaks;
      report.messages.push_back("Leaked " + what);
    }
  }
  for (const auto& [raw, what] : w.copied_checks) {
    uint64_t cluster = (raw & kOffsetMask) / cs;
    uint64_t refcount = stored(cluster);
    if ((refcount == 1) != bool(raw & kOflagCopied)) {
      w.Corrupt("OFLAG_COPIED " + what + " refcount=" + std::to_string(refcount));
    }
  }
  report.image_end_offset = last_used * cs;
  return report;
}

Result<std::vector<uint32_t>> CountReferencesForRebuild(const ImageFile& file, const Header& h,
                                                        uint64_t file_size,
                                                        const std::vector<uint64_t>& l1) {
  CheckReport report;
  Walker w(file, h, file_size, report);
  RETURN_IF_ERROR(w.WalkImage(l1));
  if (report.corruptions) {
    return Error(ErrorCode::kCorrupt,
                 file.path() + ": " + report.messages.front() + " (run ferry image check)");
  }
  return std::move(w.counts());
}

}  // namespace ferry::image::qcow2
