// qcow2 writer. Layout: header cluster, L1 table, then data clusters in the
// order they arrive (any thread may write; only the cluster allocation is
// serialized), then at Finish() the L2 tables, refcount blocks and refcount
// table. Metadata is kept in memory until then, so the data path does one
// pwrite per contiguous run and nothing else.
#include "image/qcow2_writer.h"

#include <cstring>
#include <mutex>

#include "base/endian.h"
#include "image/compress.h"
#include "image/file.h"
#include "image/qcow2_format.h"
#include "image/qcow2_refcount.h"

namespace ferry::image {
namespace {

using namespace qcow2;

class Qcow2Writer : public ImageWriter {
 public:
  Qcow2Writer(ImageFile file, Header header, bool compress)
      : file_(std::move(file)), h_(std::move(header)), compress_(compress) {
    const uint64_t cs = h_.cluster_size();
    l2_.resize(h_.l1_size);
    uint64_t l1_clusters = std::max<uint64_t>(1, (uint64_t(h_.l1_size) * 8 + cs - 1) / cs);
    h_.l1_table_offset = cs;
    next_free_ = cs * (1 + l1_clusters);
    refcounts_.assign(1 + l1_clusters, 1);
  }

  uint64_t granularity() const override { return h_.cluster_size(); }
  bool starts_zeroed() const override { return h_.backing_file.empty(); }

  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    const uint64_t cs = h_.cluster_size();
    if (offset % cs != 0 || offset > h_.size || data.size() > h_.size - offset) {
      return Error(ErrorCode::kInternal, "qcow2 write not cluster aligned or past the end");
    }
    if (compress_) {
      for (uint64_t done = 0; done < data.size(); done += cs) {
        RETURN_IF_ERROR(WriteCompressible(
            offset + done, data.subspan(done, std::min<uint64_t>(cs, data.size() - done))));
      }
      return OkStatus();
    }
    return WritePlain(offset, data);
  }

  Status WriteZeroes(uint64_t offset, uint64_t length) override {
    const uint64_t cs = h_.cluster_size();
    std::vector<uint8_t> zeros;
    for (uint64_t pos = offset; pos < offset + length;) {
      uint64_t cluster_start = pos & ~(cs - 1);
      uint64_t n = std::min(cluster_start + cs, offset + length) - pos;
      bool whole = pos == cluster_start && (n == cs || pos + n == h_.size);
      bool backed = !h_.backing_file.empty();
      if (whole && (!backed || h_.version == 3)) {
        std::lock_guard lock(mu_);
        Release(SetEntry(pos, backed ? kOflagZero : 0));
      } else {
        // v2 has no zero flag, and partial clusters need their other bytes.
        if (zeros.empty()) zeros.assign(cs, 0);
        RETURN_IF_ERROR(WritePartial(pos, std::span<const uint8_t>(zeros.data(), n)));
      }
      pos += n;
    }
    return OkStatus();
  }

  Status Flush() override { return file_.Sync(); }

  // The allocation state: everything Finish() needs besides the data.
  // Layout (little-endian): next_free, compressed_next, refcount count and
  // 32-bit refcounts, table count and per table its L1 index and entries.
  Result<std::optional<std::vector<uint8_t>>> SaveState() override {
    std::lock_guard lock(mu_);
    std::vector<uint8_t> out;
    auto put = [&](uint64_t v, int bytes) {
      for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
    };
    put(next_free_, 8);
    put(compressed_next_, 8);
    put(refcounts_.size(), 8);
    for (uint32_t r : refcounts_) put(r, 4);
    uint64_t tables = 0;
    for (const auto& t : l2_) tables += !t.empty();
    put(tables, 8);
    for (size_t i = 0; i < l2_.size(); ++i) {
      if (l2_[i].empty()) continue;
      put(i, 4);
      for (uint64_t e : l2_[i]) put(e, 8);
    }
    return std::optional<std::vector<uint8_t>>(std::move(out));
  }

  // The inverse of SaveState, checked as hostile input.
  Status LoadState(std::span<const uint8_t> in) {
    const uint64_t cs = h_.cluster_size();
    const uint64_t first_free = next_free_;
    size_t at = 0;
    bool short_input = false;
    auto get = [&](int bytes) -> uint64_t {
      if (in.size() - at < size_t(bytes)) {
        short_input = true;
        return 0;
      }
      uint64_t v = 0;
      for (int i = 0; i < bytes; ++i) v |= uint64_t(in[at + i]) << (8 * i);
      at += bytes;
      return v;
    };
    auto bad = [](const char* what) {
      return Error(ErrorCode::kCorrupt, std::string("qcow2 checkpoint state: ") + what);
    };
    next_free_ = get(8);
    compressed_next_ = get(8);
    uint64_t count = get(8);
    if (short_input || next_free_ % cs || next_free_ < first_free ||
        compressed_next_ > next_free_ || count != next_free_ / cs || count > (in.size() - at) / 4) {
      return bad("allocation does not fit the image");
    }
    refcounts_.resize(count);
    for (uint32_t& r : refcounts_) r = uint32_t(get(4));
    uint64_t tables = get(8);
    if (short_input || tables > h_.l1_size) return bad("too many L2 tables");
    for (uint64_t t = 0; t < tables; ++t) {
      uint64_t index = get(4);
      if (short_input || index >= l2_.size() || !l2_[index].empty() ||
          (in.size() - at) / 8 < h_.l2_entries()) {
        return bad("L2 table out of range");
      }
      l2_[index].resize(h_.l2_entries());
      for (uint64_t& e : l2_[index]) {
        e = get(8);
        uint64_t host = e & (e & kOflagCompressed ? h_.compressed_offset_mask() : kOffsetMask);
        if (host >= next_free_) return bad("entry past the allocated clusters");
      }
    }
    if (at != in.size()) return bad("trailing bytes");
    return OkStatus();
  }

  Status Finish() override {
    const uint64_t cs = h_.cluster_size();
    std::lock_guard lock(mu_);
    // L2 tables go after the data.
    std::vector<uint64_t> l2_offsets(l2_.size(), 0);
    for (size_t i = 0; i < l2_.size(); ++i) {
      if (l2_[i].empty()) continue;
      l2_offsets[i] = AllocateClusters(1);
    }
    ASSIGN_OR_RETURN(RefcountPlacement rc, PlaceRefcounts(refcounts_, next_free_ / cs, h_));
    for (size_t i = 0; i < l2_.size(); ++i) {
      if (l2_[i].empty()) continue;
      std::vector<uint8_t> bytes(cs, 0);
      for (uint64_t j = 0; j < l2_[i].size(); ++j) {
        uint64_t e = l2_[i][j];
        // Plain clusters we wrote are referenced once: mark them "copied".
        if (!(e & kOflagCompressed) && (e & kOffsetMask)) e |= kOflagCopied;
        StoreBE64(&bytes[j * 8], e);
      }
      RETURN_IF_ERROR(file_.WriteAt(l2_offsets[i], bytes));
    }
    for (const auto& [offset, block] : rc.blocks) RETURN_IF_ERROR(file_.WriteAt(offset, block));
    RETURN_IF_ERROR(file_.WriteAt(rc.table_offset, rc.table));
    std::vector<uint8_t> l1(uint64_t(h_.l1_size) * 8, 0);
    for (size_t i = 0; i < l2_offsets.size(); ++i) {
      if (l2_offsets[i]) StoreBE64(&l1[i * 8], l2_offsets[i] | kOflagCopied);
    }
    RETURN_IF_ERROR(file_.WriteAt(h_.l1_table_offset, l1));
    h_.refcount_table_offset = rc.table_offset;
    h_.refcount_table_clusters = rc.table_clusters;
    ASSIGN_OR_RETURN(std::vector<uint8_t> header, EncodeHeader(h_));
    RETURN_IF_ERROR(file_.WriteAt(0, header));
    RETURN_IF_ERROR(file_.Truncate(rc.end));
    return file_.Sync();
  }

 private:
  // Plain clusters: one allocation and one pwrite for the whole run. Clusters
  // that already exist are overwritten in place.
  Status WritePlain(uint64_t offset, std::span<const uint8_t> data) {
    const uint64_t cs = h_.cluster_size();
    const uint64_t clusters = (data.size() + cs - 1) / cs;
    uint64_t host;
    {
      std::lock_guard lock(mu_);
      bool fresh = true;
      for (uint64_t i = 0; i < clusters && fresh; ++i)
        fresh = (Entry(offset + i * cs) & kOffsetMask) == 0;
      if (!fresh) {
        // Rare (rewrites): go cluster by cluster.
        for (uint64_t done = 0; done < data.size(); done += cs) {
          RETURN_IF_ERROR(WritePartialLocked(
              offset + done, data.subspan(done, std::min<uint64_t>(cs, data.size() - done))));
        }
        return OkStatus();
      }
      host = AllocateClusters(clusters);
      for (uint64_t i = 0; i < clusters; ++i) Release(SetEntry(offset + i * cs, host + i * cs));
    }
    return file_.WriteAt(host, data);
  }

  Status WriteCompressible(uint64_t offset, std::span<const uint8_t> cluster) {
    const uint64_t cs = h_.cluster_size();
    std::vector<uint8_t> padded;
    if (cluster.size() < cs) {  // the short last cluster compresses as a full one
      padded.assign(cs, 0);
      std::memcpy(padded.data(), cluster.data(), cluster.size());
      cluster = padded;
    }
    Codec codec = h_.compression_type == kCompressionZstd ? Codec::kZstd : Codec::kDeflateRaw;
    // At most cs - 512 bytes, so the sector count fits the descriptor.
    ASSIGN_OR_RETURN(std::vector<uint8_t> packed, Compress(codec, cluster, cs - 512));
    if (packed.empty()) return WritePlain(offset, cluster);
    uint64_t host;
    {
      std::lock_guard lock(mu_);
      host = AllocateBytes(packed.size());
      uint64_t extra_sectors = (host + packed.size() - 1) / 512 - host / 512;
      Release(SetEntry(offset, kOflagCompressed | host | (extra_sectors << h_.csize_shift())));
    }
    return file_.WriteAt(host, packed);
  }

  Status WritePartial(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mu_);
    return WritePartialLocked(offset, data);
  }

  // Writes `data` within one cluster, keeping the cluster's other bytes
  // (which read as zeros or from the backing file for a new cluster).
  Status WritePartialLocked(uint64_t offset, std::span<const uint8_t> data) {
    const uint64_t cs = h_.cluster_size();
    const uint64_t start = offset & ~(cs - 1);
    uint64_t entry = Entry(start);
    if ((entry & kOffsetMask) && !(entry & (kOflagCompressed | kOflagZero))) {
      return file_.WriteAt((entry & kOffsetMask) + (offset - start), data);
    }
    if (!h_.backing_file.empty() && !(entry & (kOflagZero | kOflagCompressed))) {
      return Error(ErrorCode::kUnimplemented,
                   "qcow2 writer: partial cluster writes over a backing file are not implemented");
    }
    std::vector<uint8_t> whole(std::min(cs, h_.size - start), 0);
    if (entry & kOflagCompressed) {
      return Error(ErrorCode::kUnimplemented,
                   "qcow2 writer: rewriting part of a compressed cluster is not implemented");
    }
    std::memcpy(whole.data() + (offset - start), data.data(), data.size());
    uint64_t host = AllocateClusters(1);
    Release(SetEntry(start, host));
    return file_.WriteAt(host, whole);
  }

  uint64_t AllocateClusters(uint64_t n) {
    const uint64_t cs = h_.cluster_size();
    uint64_t host = next_free_;
    next_free_ += n * cs;
    refcounts_.resize(next_free_ / cs, 0);
    for (uint64_t i = 0; i < n; ++i) refcounts_[host / cs + i] += 1;
    return host;
  }

  // Compressed data is packed back to back; each host cluster it touches
  // gains one reference.
  uint64_t AllocateBytes(uint64_t n) {
    const uint64_t cs = h_.cluster_size();
    // Continue in the last cluster of the file if compressed data ends there.
    bool continues = compressed_next_ > next_free_ - cs && compressed_next_ <= next_free_;
    if (!continues) compressed_next_ = next_free_;
    uint64_t host = compressed_next_;
    uint64_t end = host + n;
    if (end > next_free_) {
      next_free_ += (end - next_free_ + cs - 1) / cs * cs;
      refcounts_.resize(next_free_ / cs, 0);
    }
    for (uint64_t c = host / cs; c <= (end - 1) / cs; ++c) refcounts_[c] += 1;
    compressed_next_ = end;
    return host;
  }

  uint64_t Entry(uint64_t offset) {
    const uint64_t cluster = offset / h_.cluster_size();
    const auto& table = l2_[cluster / h_.l2_entries()];
    return table.empty() ? 0 : table[cluster % h_.l2_entries()];
  }

  // Sets an L2 entry, returns the one it replaced.
  uint64_t SetEntry(uint64_t offset, uint64_t entry) {
    const uint64_t cluster = offset / h_.cluster_size();
    auto& table = l2_[cluster / h_.l2_entries()];
    if (table.empty()) table.assign(h_.l2_entries(), 0);
    return std::exchange(table[cluster % h_.l2_entries()], entry);
  }

  // Drops the references of a replaced entry.
  void Release(uint64_t old) {
    const uint64_t cs = h_.cluster_size();
    if (old & kOflagCompressed) {
      uint64_t host = old & h_.compressed_offset_mask();
      uint64_t size = (((old >> h_.csize_shift()) & h_.csize_mask()) + 1) * 512 - (host & 511);
      for (uint64_t c = host / cs; c <= (host + size - 1) / cs && c < refcounts_.size(); ++c) {
        if (refcounts_[c]) refcounts_[c] -= 1;
      }
    } else if (old & kOffsetMask) {
      uint64_t c = (old & kOffsetMask) / cs;
      if (c < refcounts_.size() && refcounts_[c]) refcounts_[c] -= 1;
    }
  }

  ImageFile file_;
  Header h_;
  bool compress_;
  std::mutex mu_;
  uint64_t next_free_ = 0;                 // first byte after everything allocated
  uint64_t compressed_next_ = 0;           // where the next compressed cluster goes
  std::vector<std::vector<uint64_t>> l2_;  // L2 entries per L1 index, empty = none
  std::vector<uint32_t> refcounts_;        // per host cluster
};

Result<Header> MakeHeader(uint64_t size, const CreateOptions& o) {
  Header h;
  uint64_t cs = o.cluster_size ? o.cluster_size : 65536;
  if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "qcow2 cluster_size must be a power of two from 512 to 2M");
  }
  h.cluster_bits = uint32_t(__builtin_ctzll(cs));
  if (o.compat.empty() || o.compat == "1.1" || o.compat == "v3") {
    h.version = 3;
  } else if (o.compat == "0.10" || o.compat == "v2") {
    h.version = 2;
    h.header_length = kV2HeaderLength;
  } else {
    return Error(ErrorCode::kInvalidArgument, "qcow2 compat must be 0.10 or 1.1");
  }
  if (o.compression == Compression::kZstd) {
    if (h.version == 2) {
      return Error(ErrorCode::kInvalidArgument, "zstd compression needs compat=1.1");
    }
    h.compression_type = kCompressionZstd;
    h.incompatible_features |= kIncompatCompressionType;
  }
  h.size = size;
  uint64_t l1 = L1EntriesFor(size, h.cluster_bits);
  if (l1 * 8 > kMaxL1Bytes) return Error(ErrorCode::kInvalidArgument, "image too large for qcow2");
  h.l1_size = uint32_t(l1);
  h.backing_file = o.backing_file;
  if (o.backing_format) h.backing_format = FormatName(*o.backing_format);
  return h;
}

}  // namespace

Result<uint64_t> Qcow2FileSize(uint64_t size, const CreateOptions& options, uint64_t data_clusters,
                               uint64_t l2_tables) {
  ASSIGN_OR_RETURN(Header h, MakeHeader(size, options));
  const uint64_t cs = h.cluster_size();
  // Same layout as Qcow2Writer: header, L1, data, L2 tables, refcounts.
  uint64_t l1_clusters = std::max<uint64_t>(1, (uint64_t(h.l1_size) * 8 + cs - 1) / cs);
  uint64_t clusters = 1 + l1_clusters + data_clusters + l2_tables;
  auto [blocks, table] = RefcountClustersFor(clusters, h);
  return (clusters + blocks + table) * cs;
}

Result<uint64_t> Qcow2ClusterSize(const CreateOptions& options) {
  ASSIGN_OR_RETURN(Header h, MakeHeader(0, options));
  return h.cluster_size();
}

Result<std::unique_ptr<ImageWriter>> ResumeQcow2(const std::string& path, uint64_t size,
                                                 const CreateOptions& options,
                                                 std::span<const uint8_t> state) {
  ASSIGN_OR_RETURN(Header h, MakeHeader(size, options));
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
  if (!options.flush) file.DisableSync();
  auto writer = std::make_unique<Qcow2Writer>(std::move(file), std::move(h), options.compress);
  RETURN_IF_ERROR(writer->LoadState(state));
  return std::unique_ptr<ImageWriter>(std::move(writer));
}

Result<std::unique_ptr<ImageWriter>> CreateQcow2(const std::string& path, uint64_t size,
                                                 const CreateOptions& options) {
  ASSIGN_OR_RETURN(Header h, MakeHeader(size, options));
  // Check that the header encodes before creating anything.
  RETURN_IF_ERROR(EncodeHeader(h));
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(path));
  if (!options.flush) file.DisableSync();
  return std::unique_ptr<ImageWriter>(
      new Qcow2Writer(std::move(file), std::move(h), options.compress));
}

}  // namespace ferry::image
