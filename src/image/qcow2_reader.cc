// qcow2 reader: guest offset -> L1 entry -> L2 table -> cluster, after
// docs/interop/qcow2.txt. L2 tables are read on demand into a shared cache;
// every table and cluster offset is checked against the file and against the
// image's other metadata before it is used.
#include "image/qcow2_reader.h"
#include "image/reader_util.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "base/endian.h"
#include "image/compress.h"
#include "image/file.h"
#include "image/qcow2_format.h"

namespace ferry::image {
namespace {

using qcow2::ClusterKind;

constexpr size_t kL2CacheBytes = 64 << 20;

struct Run {
  ClusterKind kind = ClusterKind::kUnallocated;
  uint64_t length = 0;
  uint64_t host_offset = 0;  // normal: of the first byte; compressed: of the stream
  uint64_t compressed_size = 0;
};

// Runs of these kinds map to host clusters, which must be contiguous to merge.
bool HasHostOffset(ClusterKind k) {
  return k == ClusterKind::kNormal || k == ClusterKind::kZeroAllocated;
}

class Qcow2Reader : public ImageReader {
 public:
  Qcow2Reader(ImageFile file, uint64_t file_size, qcow2::Header header, std::vector<uint64_t> l1,
              std::unique_ptr<ImageReader> backing, std::string backing_path)
      : file_(std::move(file)),
        file_size_(file_size),
        h_(std::move(header)),
        l1_(std::move(l1)),
        backing_(std::move(backing)),
        backing_path_(std::move(backing_path)) {}

  uint64_t virtual_size() const override { return h_.size; }
  ImageReader* backing() const override { return backing_.get(); }

  Result<ImageDetails> Details() const override {
    ImageDetails d;
    d.path = file_.path();
    d.format = Format::kQcow2;
    d.virtual_size = h_.size;
    ASSIGN_OR_RETURN(d.disk_size, file_.AllocatedBytes());
    d.cluster_size = h_.cluster_size();
    d.backing_file = h_.backing_file;
    d.backing_path = backing_path_;
    if (!h_.backing_format.empty()) {
      auto f = ParseFormat(h_.backing_format);
      if (f.ok()) d.backing_format = *f;
    }
    d.specific = {
        {"compat", h_.version == 2 ? "0.10" : "1.1"},
        {"compression type", h_.compression_type == qcow2::kCompressionZstd ? "zstd" : "zlib"},
        {"lazy refcounts",
         (h_.compatible_features & qcow2::kCompatLazyRefcounts) ? "true" : "false"},
        {"refcount bits", std::to_string(h_.refcount_bits())},
        {"corrupt", (h_.incompatible_features & qcow2::kIncompatCorrupt) ? "true" : "false"},
        {"dirty", (h_.incompatible_features & qcow2::kIncompatDirty) ? "true" : "false"},
        {"snapshots", std::to_string(h_.nb_snapshots)},
    };
    return d;
  }

  Result<Extent> Map(uint64_t offset, uint64_t max_length) override {
    max_length = std::min(max_length, h_.size - offset);
    ASSIGN_OR_RETURN(Run run, Lookup(offset, max_length));
    // Merge the following runs of the same kind (clusters with a host
    // offset merge in Lookup, where they must be contiguous).
    uint64_t length = run.length;
    while (length < max_length && !HasHostOffset(run.kind)) {
      ASSIGN_OR_RETURN(Run next, Lookup(offset + length, max_length - length));
      if (next.kind != run.kind) break;
      length += next.length;
    }
    Extent e;
    e.start = offset;
    e.length = length;
    switch (run.kind) {
      case ClusterKind::kNormal:
        e.data = e.present = true;
        e.host_offset = run.host_offset;
        return e;
      case ClusterKind::kCompressed:
        e.data = e.present = true;
        return e;
      case ClusterKind::kZeroAllocated:
        e.host_offset = run.host_offset;
        [[fallthrough]];
      case ClusterKind::kZeroPlain:
        e.zero = e.present = true;
        return e;
      case ClusterKind::kUnallocated:
        break;
    }
    if (backing_ && offset < backing_->virtual_size()) {
      ASSIGN_OR_RETURN(Extent b,
                       backing_->Map(offset, std::min(length, backing_->virtual_size() - offset)));
      b.depth += 1;
      return b;
    }
    e.zero = true;
    if (backing_) {
      e.depth = 1;
    }
    return e;
  }

  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > h_.size || out.size() > h_.size - offset) {
      return Error(ErrorCode::kInvalidArgument, "read past the end of the virtual disk");
    }
    while (!out.empty()) {
      ASSIGN_OR_RETURN(Run run, Lookup(offset, out.size()));
      std::span<uint8_t> part = out.subspan(0, run.length);
      RETURN_IF_ERROR(ReadRun(offset, run, part));
      offset += run.length;
      out = out.subspan(run.length);
    }
    return OkStatus();
  }

 private:
  Status ReadRun(uint64_t offset, const Run& run, std::span<uint8_t> out) {
    switch (run.kind) {
      case ClusterKind::kNormal: {
        ASSIGN_OR_RETURN(size_t got, file_.ReadSomeAt(run.host_offset, out));
        std::memset(out.data() + got, 0, out.size() - got);  // a short last cluster
        return OkStatus();
      }
      case ClusterKind::kCompressed:
        return ReadCompressed(offset, run, out);
      case ClusterKind::kZeroPlain:
      case ClusterKind::kZeroAllocated:
        std::memset(out.data(), 0, out.size());
        return OkStatus();
      case ClusterKind::kUnallocated:
        break;
    }
    return ReadUnallocated(backing_.get(), offset, out);
  }

  Status ReadCompressed(uint64_t offset, const Run& run, std::span<uint8_t> out) {
    std::vector<uint8_t> in(std::min(run.compressed_size, file_size_ - run.host_offset));
    RETURN_IF_ERROR(file_.ReadAt(run.host_offset, in, "qcow2 compressed cluster"));
    std::vector<uint8_t> cluster(h_.cluster_size());
    Codec codec =
        h_.compression_type == qcow2::kCompressionZstd ? Codec::kZstd : Codec::kDeflateRaw;
    Status st = Decompress(codec, in, cluster);
    if (!st.ok()) {
      return std::move(st).error().WithContext(
          file_.path() + ": compressed cluster at host offset " + std::to_string(run.host_offset));
    }
    uint64_t in_cluster = offset & (h_.cluster_size() - 1);
    std::memcpy(out.data(), cluster.data() + in_cluster, out.size());
    return OkStatus();
  }

  // The run of clusters with one kind starting at `offset`, within one L2 table.
  Result<Run> Lookup(uint64_t offset, uint64_t max_length) {
    const uint64_t cs = h_.cluster_size();
    const uint64_t cluster = offset >> h_.cluster_bits;
    const uint64_t l1_index = cluster / h_.l2_entries();
    uint64_t l2_index = cluster % h_.l2_entries();
    const uint64_t table_end = (l1_index + 1) * h_.l2_span();
    max_length = std::min(max_length, table_end - offset);
    Run run;
    if (l1_index >= l1_.size() || l1_[l1_index] == 0) {
      run.length = max_length;
      return run;
    }
    ASSIGN_OR_RETURN(auto table, L2Table(l1_index));
    ASSIGN_OR_RETURN(qcow2::L2Entry first, Entry(*table, l2_index, offset));
    const uint64_t in_cluster = offset & (cs - 1);
    run.kind = first.kind;
    run.host_offset = first.host_offset + (HasHostOffset(first.kind) ? in_cluster : 0);
    run.compressed_size = first.compressed_size;
    run.length = std::min(max_length, cs - in_cluster);
    if (first.kind == ClusterKind::kCompressed) return run;
    while (run.length < max_length) {
      ++l2_index;
      ASSIGN_OR_RETURN(qcow2::L2Entry next, Entry(*table, l2_index, offset + run.length));
      bool same = next.kind == first.kind;
      if (HasHostOffset(first.kind)) {
        same = same && next.host_offset == run.host_offset + run.length;
      }
      if (!same) break;
      run.length = std::min(max_length, run.length + cs);
    }
    return run;
  }

  Result<qcow2::L2Entry> Entry(const std::vector<uint64_t>& table, uint64_t index,
                               uint64_t guest_offset) {
    Result<qcow2::L2Entry> e = qcow2::DecodeL2Entry(table[index], h_);
    if (!e.ok()) return std::move(e).error().WithContext(Where(guest_offset));
    bool stored = e->kind == ClusterKind::kNormal || e->kind == ClusterKind::kCompressed;
    if (stored && e->host_offset >= file_size_) {
      return Error(ErrorCode::kCorrupt, Where(guest_offset) + ": cluster at host offset " +
                                            std::to_string(e->host_offset) +
                                            " lies past the end of the file (" +
                                            std::to_string(file_size_) + " bytes)");
    }
    if (stored && e->host_offset < h_.cluster_size()) {
      return Error(ErrorCode::kCorrupt, Where(guest_offset) + ": data cluster overlaps the header");
    }
    return e;
  }

  std::string Where(uint64_t guest_offset) const {
    return file_.path() + ": guest offset " + std::to_string(guest_offset);
  }

  Result<std::shared_ptr<const std::vector<uint64_t>>> L2Table(uint64_t l1_index) {
    const uint64_t table_offset = l1_[l1_index];
    {
      std::lock_guard lock(mu_);
      auto it = cache_.find(table_offset);
      if (it != cache_.end()) return it->second;
    }
    const uint64_t cs = h_.cluster_size();
    std::string where = file_.path() + ": L2 table " + std::to_string(l1_index) + " at offset " +
                        std::to_string(table_offset);
    if (table_offset > file_size_ || cs > file_size_ - table_offset) {
      return Error(ErrorCode::kCorrupt, where + " lies past the end of the file (" +
                                            std::to_string(file_size_) + " bytes)");
    }
    if (const char* what = OverlapsMetadata(table_offset, cs)) {
      return Error(ErrorCode::kCorrupt, where + " overlaps the " + what);
    }
    std::vector<uint8_t> bytes(cs);
    RETURN_IF_ERROR(file_.ReadAt(table_offset, bytes, "qcow2 L2 table"));
    auto table = std::make_shared<std::vector<uint64_t>>(h_.l2_entries());
    for (uint64_t i = 0; i < table->size(); ++i) (*table)[i] = LoadBE64(&bytes[i * 8]);
    std::lock_guard lock(mu_);
    if (cache_bytes_ + cs > kL2CacheBytes) {
      cache_.clear();
      cache_bytes_ = 0;
    }
    cache_.emplace(table_offset, table);
    cache_bytes_ += cs;
    return std::shared_ptr<const std::vector<uint64_t>>(table);
  }

  const char* OverlapsMetadata(uint64_t offset, uint64_t length) const {
    auto overlap = [&](uint64_t start, uint64_t len) {
      return len > 0 && offset < start + len && start < offset + length;
    };
    if (overlap(0, h_.cluster_size())) return "header";
    if (overlap(h_.l1_table_offset, uint64_t(h_.l1_size) * 8)) return "L1 table";
    if (overlap(h_.refcount_table_offset,
                uint64_t(h_.refcount_table_clusters) * h_.cluster_size())) {
      return "refcount table";
    }
    return nullptr;
  }

  ImageFile file_;
  uint64_t file_size_;
  qcow2::Header h_;
  std::vector<uint64_t> l1_;  // L2 table offsets, 0 = unallocated
  std::unique_ptr<ImageReader> backing_;
  std::string backing_path_;

  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<const std::vector<uint64_t>>> cache_;
  size_t cache_bytes_ = 0;
};

Result<std::vector<uint64_t>> ReadL1(const ImageFile& file, const qcow2::Header& h) {
  std::vector<uint8_t> bytes(uint64_t(h.l1_size) * 8);
  RETURN_IF_ERROR(file.ReadAt(h.l1_table_offset, bytes, "qcow2 L1 table"));
  std::vector<uint64_t> l1(h.l1_size);
  for (uint64_t i = 0; i < l1.size(); ++i) {
    Result<uint64_t> offset = qcow2::DecodeL1Entry(LoadBE64(&bytes[i * 8]), h);
    if (!offset.ok()) {
      return std::move(offset).error().WithContext(file.path() + ": L1 entry " + std::to_string(i));
    }
    l1[i] = *offset;
  }
  return l1;
}

Result<std::unique_ptr<ImageReader>> OpenBacking(const std::string& image_path,
                                                 const qcow2::Header& h, const OpenOptions& options,
                                                 std::string* path) {
  *path = ResolveRelative(image_path, h.backing_file);
  OpenOptions sub;
  sub.chain = options.chain;
  if (!h.backing_format.empty()) {
    Result<Format> f = ParseFormat(h.backing_format);
    if (!f.ok()) return std::move(f).error().WithContext(image_path + ": backing file format");
    sub.format = *f;
  }
  Result<std::unique_ptr<ImageReader>> backing = OpenImage(*path, sub);
  if (!backing.ok()) {
    return std::move(backing).error().WithContext(image_path + ": backing file");
  }
  return backing;
}

}  // namespace

Result<std::unique_ptr<ImageReader>> OpenQcow2(const std::string& path,
                                               const OpenOptions& options) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  Result<qcow2::Header> header = qcow2::ReadHeader(file, file_size);
  if (!header.ok()) return std::move(header).error().WithContext(path);
  ASSIGN_OR_RETURN(std::vector<uint64_t> l1, ReadL1(file, *header));
  std::unique_ptr<ImageReader> backing;
  std::string backing_path;
  if (!header->backing_file.empty() && options.open_backing) {
    ASSIGN_OR_RETURN(backing, OpenBacking(path, *header, options, &backing_path));
  }
  return std::unique_ptr<ImageReader>(new Qcow2Reader(std::move(file), file_size,
                                                      std::move(header).value(), std::move(l1),
                                                      std::move(backing), backing_path));
}

}  // namespace ferry::image
