#include "image/vmdk_reader.h"
#include "image/reader_util.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "base/endian.h"
#include "image/compress.h"
#include "image/file.h"
#include "image/vmdk_format.h"

namespace ferry::image {
namespace {

using namespace vmdk;

enum class GrainKind { kUnallocated, kZero, kPlain, kCompressed };

struct GrainRun {
  GrainKind kind = GrainKind::kUnallocated;
  uint64_t length = 0;
  uint64_t host_offset = 0;  // plain: of the first byte; compressed: of the marker
};

// One hosted sparse extent file: header, grain directory, grain tables.
class SparseExtent {
 public:
  static Result<std::unique_ptr<SparseExtent>> Open(ImageFile file, SparseHeader h) {
    auto e = std::unique_ptr<SparseExtent>(new SparseExtent(std::move(file), h));
    RETURN_IF_ERROR(e->Load());
    return e;
  }

  // ESX's older delta disks (vmfsSparse, magic "COWD"): a 40-byte header
  // after the magic, a grain directory and 4096-entry grain tables of
  // 32-bit sector numbers, as qemu's block/vmdk.c reads them.
  static Result<std::unique_ptr<SparseExtent>> OpenCowd(ImageFile file) {
    uint8_t head[kSector];
    RETURN_IF_ERROR(file.ReadAt(0, head, "vmfsSparse header"));
    SparseHeader h;
    h.capacity = LoadLE32(head + 12);
    h.grain_size = LoadLE32(head + 16);
    h.gd_offset = LoadLE32(head + 20);
    const uint32_t gd_size = LoadLE32(head + 24);
    h.gtes_per_gt = 4096;
    if (h.capacity == 0 || h.grain_size == 0 || h.grain_size > 0x200000) {
      return Error(ErrorCode::kCorrupt, file.path() + ": vmfsSparse header has capacity " +
                                            std::to_string(h.capacity) + " and grain size " +
                                            std::to_string(h.grain_size));
    }
    if (gd_size < h.gd_entries()) {
      return Error(ErrorCode::kCorrupt, file.path() + ": vmfsSparse grain directory has " +
                                            std::to_string(gd_size) + " entries, the disk needs " +
                                            std::to_string(h.gd_entries()));
    }
    return Open(std::move(file), h);
  }

  // ESXi's seSparse delta disks (VMFS6, and disks over 2 TiB): a constant
  // header (magic 0xcafebabe), a volatile header (0xcafecafe), a grain
  // directory of 64-bit entries (0x1 in the top nibble: allocated, the low 32
  // bits a grain table number) and 4096-entry grain tables whose top nibble
  // says unallocated (0), unmapped (1) or zero (2), or allocated (3) with the
  // grain number split across the other bits; 4 KiB grains. The layout
  // follows qemu's block/vmdk.c (the format has no public specification).
  static Result<std::unique_ptr<SparseExtent>> OpenSeSparse(ImageFile file) {
    auto e = std::unique_ptr<SparseExtent>(new SparseExtent(std::move(file), SparseHeader{}));
    RETURN_IF_ERROR(e->LoadSeSparse());
    return e;
  }

  const SparseHeader& header() const { return h_; }
  uint64_t size() const { return h_.capacity * kSector; }
  const ImageFile& file() const { return file_; }

  // The run of grains of one kind at `offset` (within one grain table).
  Result<GrainRun> Lookup(uint64_t offset, uint64_t max_length) const {
    const uint64_t gb = h_.grain_bytes();
    uint64_t grain = offset / gb;
    const uint64_t gd_index = grain / h_.gtes_per_gt;
    const uint64_t table_end = (gd_index + 1) * h_.gt_span();
    max_length = std::min(max_length, table_end - offset);
    GrainRun run;
    if (gd_index >= gts_.size() || gts_[gd_index].empty()) {
      run.length = max_length;
      return run;
    }
    const std::vector<uint64_t>& gt = gts_[gd_index];
    ASSIGN_OR_RETURN(run, Classify(gt[grain % h_.gtes_per_gt], grain));
    const uint64_t in_grain = offset % gb;
    if (run.kind == GrainKind::kPlain) run.host_offset += in_grain;
    run.length = std::min(max_length, gb - in_grain);
    if (run.kind == GrainKind::kCompressed) return run;
    while (run.length < max_length) {
      ++grain;
      ASSIGN_OR_RETURN(GrainRun next, Classify(gt[grain % h_.gtes_per_gt], grain));
      if (next.kind != run.kind) break;
      if (run.kind == GrainKind::kPlain && next.host_offset != run.host_offset + run.length) break;
      run.length = std::min(max_length, run.length + gb);
    }
    return run;
  }

  Status ReadPlain(uint64_t host, std::span<uint8_t> out) const {
    ASSIGN_OR_RETURN(size_t got, file_.ReadSomeAt(host, out));
    std::memset(out.data() + got, 0, out.size() - got);
    return OkStatus();
  }

  Status ReadCompressed(uint64_t offset, uint64_t marker_offset, std::span<uint8_t> out) const {
    uint8_t marker[12];
    RETURN_IF_ERROR(file_.ReadAt(marker_offset, marker, "vmdk grain marker"));
    const uint64_t gb = h_.grain_bytes();
    uint64_t lba = LoadLE64(marker);
    uint32_t size = LoadLE32(marker + 8);
    if (lba != offset / gb * h_.grain_size) {
      return Error(ErrorCode::kCorrupt, Where(marker_offset) + ": grain marker names sector " +
                                            std::to_string(lba) + ", the grain table another");
    }
    if (size == 0 || size > 2 * gb + 1024) {
      return Error(ErrorCode::kCorrupt, Where(marker_offset) + ": compressed grain size " +
                                            std::to_string(size) + " is invalid");
    }
    std::vector<uint8_t> packed(size), grain(gb);
    RETURN_IF_ERROR(file_.ReadAt(marker_offset + 12, packed, "vmdk compressed grain"));
    Status st = Decompress(Codec::kZlib, packed, grain);
    if (!st.ok())
      return std::move(st).error().WithContext(Where(marker_offset) + ": compressed grain");
    std::memcpy(out.data(), grain.data() + offset % gb, out.size());
    return OkStatus();
  }

 private:
  SparseExtent(ImageFile file, SparseHeader h) : file_(std::move(file)), h_(h) {}

  std::string Where(uint64_t host) const {
    return file_.path() + " at offset " + std::to_string(host);
  }

  Result<GrainRun> Classify(uint64_t entry, uint64_t grain) const {
    GrainRun run;
    if (entry == 0) return run;
    if (entry == 1 && (h_.flags & kFlagZeroGrain)) {
      run.kind = GrainKind::kZero;
      return run;
    }
    run.host_offset = uint64_t(entry) * kSector;
    run.kind = (h_.flags & kFlagCompressed) ? GrainKind::kCompressed : GrainKind::kPlain;
    uint64_t length = run.kind == GrainKind::kCompressed ? 12 : h_.grain_bytes();
    if (run.host_offset >= file_size_) {
      return Error(ErrorCode::kCorrupt, file_.path() + ": grain " + std::to_string(grain) +
                                            " at offset " + std::to_string(run.host_offset) +
                                            " lies past the end of the file");
    }
    if (const char* what = Overlaps(run.host_offset, length)) {
      return Error(ErrorCode::kCorrupt, file_.path() + ": grain " + std::to_string(grain) +
                                            " at offset " + std::to_string(run.host_offset) +
                                            " overlaps the " + what);
    }
    return run;
  }

  Status Load() {
    ASSIGN_OR_RETURN(file_size_, file_.Size());
    if (h_.gd_offset == kGdAtEnd) RETURN_IF_ERROR(LoadFooter());
    AddMetadata(0, kSector, "header");
    if (h_.descriptor_size) {
      AddMetadata(h_.descriptor_offset * kSector, h_.descriptor_size * kSector, "descriptor");
    }
    const uint64_t gd_entries = h_.gd_entries();
    const uint64_t gd_bytes = gd_entries * 4;
    if (gd_entries > (uint64_t(1) << 24)) return Corrupt("grain directory is too large");
    if (h_.gd_offset == 0 || h_.gd_offset > file_size_ / kSector ||
        gd_bytes > file_size_ - h_.gd_offset * kSector) {
      return Corrupt("grain directory at sector " + std::to_string(h_.gd_offset) +
                     " lies outside the file");
    }
    std::vector<uint8_t> gd(gd_bytes);
    RETURN_IF_ERROR(file_.ReadAt(h_.gd_offset * kSector, gd, "vmdk grain directory"));
    AddMetadata(h_.gd_offset * kSector, gd_bytes, "grain directory");
    const uint64_t gt_bytes = uint64_t(h_.gtes_per_gt) * 4;
    gts_.resize(gd_entries);
    for (uint64_t i = 0; i < gd_entries; ++i) {
      uint64_t gt = uint64_t(LoadLE32(&gd[i * 4])) * kSector;
      if (gt == 0) continue;
      if (gt > file_size_ || gt_bytes > file_size_ - gt) {
        return Corrupt("grain table " + std::to_string(i) + " at offset " + std::to_string(gt) +
                       " lies past the end of the file");
      }
      std::vector<uint8_t> bytes(gt_bytes);
      RETURN_IF_ERROR(file_.ReadAt(gt, bytes, "vmdk grain table"));
      gts_[i].resize(h_.gtes_per_gt);
      for (uint64_t j = 0; j < h_.gtes_per_gt; ++j) gts_[i][j] = LoadLE32(&bytes[j * 4]);
      AddMetadata(gt, gt_bytes, "grain table " + std::to_string(i));
    }
    // Metadata must not overlap: a grain directory or table pointing into
    // another (or itself) is how loops are built.
    std::sort(meta_.begin(), meta_.end());
    for (size_t i = 1; i < meta_.size(); ++i) {
      if (meta_[i].start < meta_[i - 1].start + meta_[i - 1].length) {
        return Corrupt(meta_[i].what + " overlaps the " + meta_[i - 1].what);
      }
    }
    return OkStatus();
  }

  Status LoadSeSparse() {
    constexpr uint64_t kGtEntries = 4096;
    constexpr uint64_t kGtBytes = kGtEntries * 8;
    ASSIGN_OR_RETURN(file_size_, file_.Size());
    uint8_t c[kSector];
    RETURN_IF_ERROR(file_.ReadAt(0, c, "seSparse header"));
    auto field = [&](int i) { return LoadLE64(c + 8 * i); };
    if (field(1) != 0x0000000200000001) {
      return Error(ErrorCode::kUnimplemented, file_.path() + ": seSparse version " +
                                                  std::to_string(field(1)) + " is not supported");
    }
    if (field(3) != 8 || field(4) != 64 || field(5) != 0) {
      return Error(ErrorCode::kUnimplemented,
                   file_.path() + ": seSparse grain size, grain table size or flags not supported");
    }
    h_.capacity = field(2);
    h_.grain_size = 8;
    h_.gtes_per_gt = kGtEntries;
    h_.flags = kFlagZeroGrain;
    const uint64_t volatile_at = field(10), gd_at = field(16), gd_sectors = field(17),
                   gts_at = field(18), grains_at = field(24);
    const uint64_t sectors = file_size_ / kSector;
    if (h_.capacity == 0 || h_.capacity > (uint64_t(64) << 31) || volatile_at >= sectors ||
        gd_at >= sectors || gd_sectors > sectors - gd_at || gts_at >= sectors ||
        grains_at > sectors) {
      return Corrupt("seSparse header places its structures outside the file");
    }
    uint8_t v[kSector];
    RETURN_IF_ERROR(file_.ReadAt(volatile_at * kSector, v, "seSparse volatile header"));
    if (LoadLE64(v) != 0x00000000cafecafe) return Corrupt("seSparse volatile header magic missing");
    if (LoadLE64(v + 24) != 0) {
      return Error(ErrorCode::kUnimplemented,
                   file_.path() +
                       ": the seSparse journal needs replaying (the disk was not "
                       "closed cleanly); consolidate the snapshot on ESXi first");
    }
    AddMetadata(0, kSector, "header");
    AddMetadata(volatile_at * kSector, kSector, "volatile header");
    const uint64_t gd_entries = h_.gd_entries();
    if (gd_entries * 8 > gd_sectors * kSector) {
      return Corrupt("seSparse grain directory is too small for the disk");
    }
    std::vector<uint8_t> gd(gd_entries * 8);
    RETURN_IF_ERROR(file_.ReadAt(gd_at * kSector, gd, "seSparse grain directory"));
    AddMetadata(gd_at * kSector, gd.size(), "grain directory");
    gts_.resize(gd_entries);
    for (uint64_t i = 0; i < gd_entries; ++i) {
      const uint64_t entry = LoadLE64(&gd[i * 8]);
      if (entry == 0) continue;
      if ((entry & 0xffffffff00000000) != 0x1000000000000000) {
        return Corrupt("seSparse grain directory entry " + std::to_string(i) + " is invalid");
      }
      const uint64_t gt = gts_at * kSector + (entry & 0xffffffff) * kGtBytes;
      if (gt > file_size_ || kGtBytes > file_size_ - gt) {
        return Corrupt("grain table " + std::to_string(i) + " lies past the end of the file");
      }
      std::vector<uint8_t> bytes(kGtBytes);
      RETURN_IF_ERROR(file_.ReadAt(gt, bytes, "seSparse grain table"));
      AddMetadata(gt, kGtBytes, "grain table " + std::to_string(i));
      gts_[i].resize(kGtEntries);
      for (uint64_t j = 0; j < kGtEntries; ++j) {
        ASSIGN_OR_RETURN(gts_[i][j], SeSparseGrain(LoadLE64(&bytes[j * 8]), grains_at));
      }
    }
    std::sort(meta_.begin(), meta_.end());
    for (size_t i = 1; i < meta_.size(); ++i) {
      if (meta_[i].start < meta_[i - 1].start + meta_[i - 1].length) {
        return Corrupt(meta_[i].what + " overlaps the " + meta_[i - 1].what);
      }
    }
    return OkStatus();
  }

  // One seSparse grain table entry as a sector number (0 unallocated, 1 zero).
  Result<uint64_t> SeSparseGrain(uint64_t entry, uint64_t grains_at) const {
    switch (entry >> 60) {
      case 0:
        if (entry != 0) return Corrupt("seSparse grain table entry has stray bits");
        return uint64_t{0};
      case 1:  // unmapped by the guest (SCSI UNMAP): reads as zeros
      case 2:
        return uint64_t{1};
      case 3: {
        const uint64_t grain =
            ((entry & 0x0fff000000000000) >> 48) | ((entry & 0x0000ffffffffffff) << 12);
        if (grain > (uint64_t(1) << 40)) return Corrupt("seSparse grain number out of range");
        return grains_at + grain * 8;
      }
      default:
        return Corrupt("seSparse grain table entry has an unknown type");
    }
  }

  // streamOptimized: the real header is the footer copy before the
  // end-of-stream marker.
  Status LoadFooter() {
    if (file_size_ < 3 * kSector) return Corrupt("stream-optimized file has no footer");
    uint8_t footer[kSector];
    RETURN_IF_ERROR(file_.ReadAt(file_size_ - 2 * kSector, footer, "vmdk footer"));
    Result<SparseHeader> h = ParseSparseHeader(footer);
    if (!h.ok()) return std::move(h).error().WithContext(file_.path() + ": footer");
    if (h->gd_offset == kGdAtEnd) return Corrupt("footer has no grain directory offset");
    h_.gd_offset = h->gd_offset;
    return OkStatus();
  }

  void AddMetadata(uint64_t start, uint64_t length, std::string what) {
    meta_.push_back({start, length, std::move(what)});
  }

  const char* Overlaps(uint64_t start, uint64_t length) const {
    auto it = std::upper_bound(meta_.begin(), meta_.end(), start,
                               [](uint64_t s, const Range& r) { return s < r.start; });
    if (it != meta_.end() && it->start < start + length) return it->what.c_str();
    if (it != meta_.begin()) {
      --it;
      if (start < it->start + it->length) return it->what.c_str();
    }
    return nullptr;
  }

  Error Corrupt(const std::string& what) const {
    return Error(ErrorCode::kCorrupt, file_.path() + ": " + what);
  }

  struct Range {
    uint64_t start;
    uint64_t length;
    std::string what;
    bool operator<(const Range& o) const { return start < o.start; }
  };

  ImageFile file_;
  SparseHeader h_;
  uint64_t file_size_ = 0;
  // All grain tables, read at open, as sector numbers: 0 unallocated, 1 a
  // zero grain (with kFlagZeroGrain), else where the grain lies.
  std::vector<std::vector<uint64_t>> gts_;
  std::vector<Range> meta_;
};

struct VmdkExtent {
  ExtentType type = ExtentType::kZero;
  uint64_t start = 0;   // bytes, in the virtual disk
  uint64_t length = 0;  // bytes
  std::shared_ptr<ImageFile> flat;
  uint64_t flat_offset = 0;  // bytes
  std::unique_ptr<SparseExtent> sparse;
};

class VmdkReader : public ImageReader {
 public:
  VmdkReader(std::string path, Descriptor d, std::vector<VmdkExtent> extents,
             std::unique_ptr<ImageReader> backing, std::string backing_path)
      : path_(std::move(path)),
        d_(std::move(d)),
        extents_(std::move(extents)),
        backing_(std::move(backing)),
        backing_path_(std::move(backing_path)) {
    size_ = extents_.empty() ? 0 : extents_.back().start + extents_.back().length;
  }

  uint64_t virtual_size() const override { return size_; }
  ImageReader* backing() const override { return backing_.get(); }

  Result<ImageDetails> Details() const override {
    ImageDetails det;
    det.path = path_;
    det.format = Format::kVmdk;
    det.virtual_size = size_;
    ASSIGN_OR_RETURN(ImageFile f, ImageFile::Open(path_, false));
    ASSIGN_OR_RETURN(det.disk_size, f.AllocatedBytes());
    for (const VmdkExtent& e : extents_) {
      if (e.type == ExtentType::kSparse) {
        det.cluster_size = e.sparse->header().grain_bytes();
        if (e.sparse->file().path() != path_) {
          ASSIGN_OR_RETURN(uint64_t n, e.sparse->file().AllocatedBytes());
          det.disk_size += n;
        }
      } else if (e.type == ExtentType::kFlat && e.flat->path() != path_) {
        ASSIGN_OR_RETURN(uint64_t n, e.flat->AllocatedBytes());
        det.disk_size += n;
      }
    }
    det.backing_file = d_.parent_hint;
    det.backing_path = backing_path_;
    det.specific = {{"create type", d_.create_type},
                    {"cid", d_.cid},
                    {"parent cid", d_.parent_cid},
                    {"extents", std::to_string(extents_.size())}};
    return det;
  }

  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > size_ || out.size() > size_ - offset) {
      return Error(ErrorCode::kInvalidArgument, "read past the end of the virtual disk");
    }
    while (!out.empty()) {
      const VmdkExtent& e = Find(offset);
      const uint64_t local = offset - e.start;
      uint64_t n = std::min<uint64_t>(out.size(), e.length - local);
      switch (e.type) {
        case ExtentType::kZero:
          std::memset(out.data(), 0, n);
          break;
        case ExtentType::kFlat:
          RETURN_IF_ERROR(
              e.flat->ReadAt(e.flat_offset + local, out.subspan(0, n), "vmdk flat extent"));
          break;
        case ExtentType::kSparse: {
          ASSIGN_OR_RETURN(GrainRun run, e.sparse->Lookup(local, n));
          n = run.length;
          RETURN_IF_ERROR(ReadGrains(*e.sparse, offset, local, run, out.subspan(0, n)));
          break;
        }
      }
      offset += n;
      out = out.subspan(n);
    }
    return OkStatus();
  }

  Result<Extent> Map(uint64_t offset, uint64_t max_length) override {
    const VmdkExtent& ve = Find(offset);
    const uint64_t local = offset - ve.start;
    max_length = std::min(max_length, ve.length - local);
    Extent e;
    e.start = offset;
    e.length = max_length;
    if (ve.type == ExtentType::kZero) {
      e.zero = e.present = true;
      return e;
    }
    if (ve.type == ExtentType::kFlat) {
      e.data = e.present = true;
      e.host_offset = ve.flat_offset + local;
      return e;
    }
    ASSIGN_OR_RETURN(GrainRun run, ve.sparse->Lookup(local, max_length));
    e.length = run.length;
    switch (run.kind) {
      case GrainKind::kPlain:
        e.host_offset = run.host_offset;
        [[fallthrough]];
      case GrainKind::kCompressed:
        e.data = e.present = true;
        return e;
      case GrainKind::kZero:
        e.zero = e.present = true;
        return e;
      case GrainKind::kUnallocated:
        break;
    }
    if (backing_ && offset < backing_->virtual_size()) {
      ASSIGN_OR_RETURN(
          Extent b, backing_->Map(offset, std::min(e.length, backing_->virtual_size() - offset)));
      b.depth += 1;
      return b;
    }
    e.zero = true;
    return e;
  }

 private:
  Status ReadGrains(const SparseExtent& s, uint64_t offset, uint64_t local, const GrainRun& run,
                    std::span<uint8_t> out) {
    switch (run.kind) {
      case GrainKind::kPlain:
        return s.ReadPlain(run.host_offset, out);
      case GrainKind::kCompressed:
        return s.ReadCompressed(local, run.host_offset, out);
      case GrainKind::kZero:
        std::memset(out.data(), 0, out.size());
        return OkStatus();
      case GrainKind::kUnallocated:
        break;
    }
    return ReadUnallocated(backing_.get(), offset, out);
  }

  const VmdkExtent& Find(uint64_t offset) const {
    auto it = std::upper_bound(extents_.begin(), extents_.end(), offset,
                               [](uint64_t o, const VmdkExtent& e) { return o < e.start; });
    return *(it - 1);
  }

  std::string path_;
  Descriptor d_;
  std::vector<VmdkExtent> extents_;
  std::unique_ptr<ImageReader> backing_;
  std::string backing_path_;
  uint64_t size_ = 0;
};

Result<std::unique_ptr<SparseExtent>> OpenSparseFile(ImageFile file) {
  uint8_t head[kSector];
  RETURN_IF_ERROR(file.ReadAt(0, head, "vmdk sparse header"));
  if (std::memcmp(head, "COWD", 4) == 0) return SparseExtent::OpenCowd(std::move(file));
  if (LoadLE64(head) == 0x00000000cafebabe) return SparseExtent::OpenSeSparse(std::move(file));
  Result<SparseHeader> h = ParseSparseHeader(head);
  if (!h.ok()) return std::move(h).error().WithContext(file.path());
  return SparseExtent::Open(std::move(file), *h);
}

Result<std::string> ReadDescriptorText(const ImageFile& file, uint64_t offset, uint64_t size) {
  if (size > kMaxDescriptorBytes)
    return Error(ErrorCode::kCorrupt, file.path() + ": descriptor is too large");
  std::string text(size, '\0');
  auto span = std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size());
  RETURN_IF_ERROR(file.ReadAt(offset, span, "vmdk descriptor"));
  return text;
}

Result<std::vector<VmdkExtent>> OpenExtents(const std::string& path, const Descriptor& d) {
  std::vector<VmdkExtent> out;
  uint64_t start = 0;
  for (const ExtentLine& line : d.extents) {
    VmdkExtent e;
    e.type = line.type;
    e.start = start;
    e.length = line.sectors * kSector;
    std::string file_path = ResolveRelative(path, line.file);
    if (line.type == ExtentType::kFlat) {
      ASSIGN_OR_RETURN(ImageFile f, ImageFile::Open(file_path, false));
      ASSIGN_OR_RETURN(uint64_t fsize, f.Size());
      e.flat_offset = line.offset * kSector;
      if (e.flat_offset > fsize || e.length > fsize - e.flat_offset) {
        return Error(ErrorCode::kCorrupt,
                     "vmdk flat extent " + file_path + " is shorter than the descriptor says");
      }
      e.flat = std::make_shared<ImageFile>(std::move(f));
    } else if (line.type == ExtentType::kSparse) {
      ASSIGN_OR_RETURN(ImageFile f, ImageFile::Open(file_path, false));
      ASSIGN_OR_RETURN(e.sparse, OpenSparseFile(std::move(f)));
      if (e.sparse->size() < e.length) {
        return Error(ErrorCode::kCorrupt,
                     "vmdk sparse extent " + file_path + " is smaller than the descriptor says");
      }
    }
    start += e.length;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ImageReader>> OpenVmdk(const std::string& path, const OpenOptions& options) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  uint8_t head[8] = {};
  ASSIGN_OR_RETURN(size_t got, file.ReadSomeAt(0, head));
  Descriptor d;
  std::vector<VmdkExtent> extents;
  const bool delta_file =
      got == 8 && (std::memcmp(head, "COWD", 4) == 0 || LoadLE64(head) == 0x00000000cafebabe);
  if (delta_file) {
    // An ESXi delta extent opened without its descriptor: its own bytes only.
    ASSIGN_OR_RETURN(std::unique_ptr<SparseExtent> sparse, OpenSparseFile(std::move(file)));
    VmdkExtent e;
    e.type = ExtentType::kSparse;
    e.length = sparse->size();
    e.sparse = std::move(sparse);
    extents.push_back(std::move(e));
  } else if (got >= 4 && LoadLE32(head) == kSparseMagic) {
    // A monolithic sparse file: one extent, the descriptor inside it.
    ASSIGN_OR_RETURN(std::unique_ptr<SparseExtent> sparse, OpenSparseFile(std::move(file)));
    const SparseHeader& h = sparse->header();
    if (h.descriptor_size) {
      ASSIGN_OR_RETURN(std::string text,
                       ReadDescriptorText(sparse->file(), h.descriptor_offset * kSector,
                                          h.descriptor_size * kSector));
      Result<Descriptor> parsed = ParseDescriptor(text);
      if (!parsed.ok()) return std::move(parsed).error().WithContext(path);
      d = std::move(parsed).value();
    }
    VmdkExtent e;
    e.type = ExtentType::kSparse;
    e.length = sparse->size();
    e.sparse = std::move(sparse);
    extents.push_back(std::move(e));
  } else {
    ASSIGN_OR_RETURN(std::string text, ReadDescriptorText(file, 0, file_size));
    Result<Descriptor> parsed = ParseDescriptor(text);
    if (!parsed.ok()) return std::move(parsed).error().WithContext(path);
    d = std::move(parsed).value();
    ASSIGN_OR_RETURN(extents, OpenExtents(path, d));
  }
  std::unique_ptr<ImageReader> backing;
  std::string backing_path;
  bool has_parent = !d.parent_cid.empty() && d.parent_cid != "ffffffff" && !d.parent_hint.empty();
  if (has_parent && options.open_backing) {
    backing_path = ResolveRelative(path, d.parent_hint);
    OpenOptions sub;
    sub.chain = options.chain;
    Result<std::unique_ptr<ImageReader>> b = OpenImage(backing_path, sub);
    if (!b.ok()) return std::move(b).error().WithContext(path + ": parent");
    backing = std::move(b).value();
  }
  return std::unique_ptr<ImageReader>(
      new VmdkReader(path, std::move(d), std::move(extents), std::move(backing), backing_path));
}

}  // namespace ferry::image
