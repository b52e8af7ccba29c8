// VMDK writers. monolithicSparse: header, embedded descriptor, redundant and
// primary grain directory with all grain tables preallocated (as VMware
// lays it out), then grains in arrival order from any thread.
// streamOptimized: header (grain directory "at end"), descriptor, then each
// grain as a marker + zlib stream in offset order, then the grain tables,
// grain directory, footer and end-of-stream marker.
#include "image/vmdk_writer.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>

#include "base/endian.h"
#include "image/compress.h"
#include "image/file.h"
#include "image/vmdk_format.h"
#include "image/writer_state.h"

namespace ferry::image {
namespace {

using namespace vmdk;

constexpr uint64_t kDescriptorSectors = 20;
constexpr uint64_t kGrainSectors = 128;                  // 64 KiB, as VMware and qemu
constexpr uint64_t kMaxFileSectors = uint64_t(1) << 32;  // grain table entries are 32-bit

uint64_t SectorsFor(uint64_t bytes) {
  return (bytes + kSector - 1) / kSector;
}

// `cid` is random for a new image; a resumed one keeps its first run's.
std::string MakeDescriptor(const std::string& create_type, const std::string& file,
                           uint64_t sectors, const std::string& adapter, uint32_t cid_value) {
  uint64_t cylinders = std::min<uint64_t>(sectors / (16 * 63), 16383);
  char cid[16];
  std::snprintf(cid, sizeof cid, "%08x", cid_value);
  return "# Disk DescriptorFile\nversion=1\nCID=" + std::string(cid) +
         "\nparentCID=ffffffff\ncreateType=\"" + create_type + "\"\n\n# Extent description\nRW " +
         std::to_string(sectors) + " SPARSE \"" + file +
         "\"\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n"
         "ddb.geometry.cylinders = \"" +
         std::to_string(cylinders) +
         "\"\nddb.geometry.heads = \"16\"\nddb.geometry.sectors = \"63\"\nddb.adapterType = \"" +
         adapter + "\"\n";
}

Status WriteHeaderAndDescriptor(const ImageFile& file, const SparseHeader& h,
                                const std::string& descriptor) {
  std::vector<uint8_t> buf((1 + kDescriptorSectors) * kSector, 0);
  EncodeSparseHeader(h, buf.data());
  std::memcpy(buf.data() + kSector, descriptor.data(), descriptor.size());
  return file.WriteAt(0, buf);
}

std::vector<uint8_t> EncodeU32s(const std::vector<uint32_t>& v, uint64_t bytes) {
  std::vector<uint8_t> out(bytes, 0);
  for (size_t i = 0; i < v.size(); ++i) StoreLE32(&out[i * 4], v[i]);
  return out;
}

// What a checkpoint carries for either VMDK writer: which writer, the
// descriptor's CID, the next free sector and the grain tables in use (index,
// then every entry); the grains themselves are in the file.
constexpr uint32_t kStateSparse = 1;
constexpr uint32_t kStateStream = 2;

std::vector<uint8_t> PackGrainState(uint32_t kind, uint32_t cid, uint64_t next,
                                    const std::vector<uint32_t>& gt, uint32_t per_table) {
  StatePacker out;
  out.Put(kind, 4);
  out.Put(cid, 4);
  out.Put(next, 8);
  const uint64_t tables = gt.size() / per_table;
  auto in_use = [&](uint64_t t) {
    auto first = gt.begin() + t * per_table;
    return std::any_of(first, first + per_table, [](uint32_t e) { return e != 0; });
  };
  uint64_t used = 0;
  for (uint64_t t = 0; t < tables; ++t) used += in_use(t);
  out.Put(used, 8);
  for (uint64_t t = 0; t < tables; ++t) {
    if (!in_use(t)) continue;
    out.Put(t, 4);
    for (uint64_t i = 0; i < per_table; ++i) out.Put(gt[t * per_table + i], 4);
  }
  return out.Take();
}

// The inverse of PackGrainState, checked as hostile input: every entry must
// point at a whole grain (`span` sectors from it) between `first` and `next`.
Status UnpackGrainState(std::span<const uint8_t> state, uint32_t kind, uint64_t first,
                        uint64_t span, uint32_t* cid, uint64_t* next, std::vector<uint32_t>& gt,
                        uint32_t per_table) {
  auto bad = [](const char* what) {
    return Error(ErrorCode::kCorrupt, std::string("vmdk checkpoint state: ") + what);
  };
  StateUnpacker in(state);
  if (in.Get(4) != kind) return bad("written by another subformat");
  *cid = uint32_t(in.Get(4));
  *next = in.Get(8);
  const uint64_t used = in.Get(8);
  const uint64_t tables = gt.size() / per_table;
  if (in.short_input() || *next < first || *next > kMaxFileSectors || used > tables) {
    return bad("allocation does not fit the image");
  }
  for (uint64_t n = 0; n < used; ++n) {
    const uint64_t t = in.Get(4);
    if (in.short_input() || t >= tables) return bad("grain table out of range");
    for (uint64_t i = 0; i < per_table; ++i) {
      const uint64_t e = in.Get(4);
      if (e != 0 && (e < first || e + span > *next)) return bad("grain past the allocated sectors");
      gt[t * per_table + i] = uint32_t(e);
    }
  }
  if (!in.complete()) return bad("truncated or trailing bytes");
  return OkStatus();
}

class SparseWriter : public ImageWriter {
 public:
  SparseWriter(ImageFile file, SparseHeader h, std::string descriptor, uint32_t cid)
      : file_(std::move(file)), h_(h), descriptor_(std::move(descriptor)), cid_(cid) {
    const uint64_t gd_sectors = SectorsFor(h_.gd_entries() * 4);
    const uint64_t gt_sectors = SectorsFor(uint64_t(h_.gtes_per_gt) * 4);
    h_.descriptor_offset = 1;
    h_.descriptor_size = kDescriptorSectors;
    h_.rgd_offset = 1 + kDescriptorSectors;
    h_.gd_offset = h_.rgd_offset + gd_sectors + h_.gd_entries() * gt_sectors;
    uint64_t end = h_.gd_offset + gd_sectors + h_.gd_entries() * gt_sectors;
    h_.overhead = (end + h_.grain_size - 1) / h_.grain_size * h_.grain_size;
    next_ = h_.overhead;
    gt_.assign(h_.gd_entries() * h_.gtes_per_gt, 0);
  }

  uint64_t granularity() const override { return h_.grain_bytes(); }

  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    const uint64_t grains =
        SectorsFor(data.size()) / h_.grain_size + (SectorsFor(data.size()) % h_.grain_size ? 1 : 0);
    uint64_t sector;
    {
      std::lock_guard lock(mu_);
      sector = next_;
      next_ += grains * h_.grain_size;
      if (next_ > kMaxFileSectors) {
        return Error(ErrorCode::kResourceExhausted, "vmdk sparse files cannot grow past 2 TiB");
      }
      for (uint64_t i = 0; i < grains; ++i) {
        gt_[offset / h_.grain_bytes() + i] = uint32_t(sector + i * h_.grain_size);
      }
    }
    return file_.WriteAt(sector * kSector, data);
  }

  Status WriteZeroes(uint64_t, uint64_t) override { return OkStatus(); }  // no backing: zero

  Status Finish() override {
    const uint64_t gd_sectors = SectorsFor(h_.gd_entries() * 4);
    const uint64_t gt_sectors = SectorsFor(uint64_t(h_.gtes_per_gt) * 4);
    // Both copies: redundant (rgd) and primary (gd), each followed by its tables.
    for (uint64_t dir : {h_.rgd_offset, h_.gd_offset}) {
      std::vector<uint32_t> gd(h_.gd_entries());
      for (uint64_t i = 0; i < gd.size(); ++i) gd[i] = uint32_t(dir + gd_sectors + i * gt_sectors);
      RETURN_IF_ERROR(file_.WriteAt(dir * kSector, EncodeU32s(gd, gd_sectors * kSector)));
      std::vector<uint8_t> tables = EncodeU32s(gt_, h_.gd_entries() * gt_sectors * kSector);
      RETURN_IF_ERROR(file_.WriteAt((dir + gd_sectors) * kSector, tables));
    }
    RETURN_IF_ERROR(WriteHeaderAndDescriptor(file_, h_, descriptor_));
    RETURN_IF_ERROR(file_.Truncate(next_ * kSector));
    return file_.Sync();
  }

  // The grains are in the file; their places are in gt_ and next_. The
  // metadata is written only by Finish, so a resumed writer just goes on.
  Result<std::optional<std::vector<uint8_t>>> SaveState() override {
    std::lock_guard lock(mu_);
    return std::optional<std::vector<uint8_t>>(
        PackGrainState(kStateSparse, cid_, next_, gt_, h_.gtes_per_gt));
  }
  Status LoadState(std::span<const uint8_t> state) {
    // Grains written after the checkpoint lie past next_ and are written again.
    return UnpackGrainState(state, kStateSparse, h_.overhead, h_.grain_size, &cid_, &next_, gt_,
                            h_.gtes_per_gt);
  }
  Status Flush() override { return file_.Sync(); }

 private:
  ImageFile file_;
  SparseHeader h_;
  std::string descriptor_;
  uint32_t cid_;
  std::mutex mu_;
  uint64_t next_;             // next free sector
  std::vector<uint32_t> gt_;  // all grain table entries, in grain order
};

class StreamWriter : public ImageWriter {
 public:
  StreamWriter(ImageFile file, SparseHeader h, std::string descriptor, uint32_t cid)
      : file_(std::move(file)), h_(h), descriptor_(std::move(descriptor)), cid_(cid) {
    h_.version = 3;
    h_.flags = kFlagNewlineTest | kFlagCompressed | kFlagMarkers;
    h_.compress_algorithm = kCompressDeflate;
    h_.descriptor_offset = 1;
    h_.descriptor_size = kDescriptorSectors;
    h_.gd_offset = kGdAtEnd;
    h_.overhead = kGrainSectors;
    next_ = h_.overhead;
    gt_.assign(h_.gd_entries() * h_.gtes_per_gt, 0);
  }

  uint64_t granularity() const override { return h_.grain_bytes(); }
  bool ordered() const override { return true; }

  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    ASSIGN_OR_RETURN(auto prepared, Prepare(offset, data));
    return WritePrepared(offset, std::move(prepared));
  }

  // Each grain becomes marker (LBA, size) + zlib stream, padded to a sector.
  Result<std::vector<uint8_t>> Prepare(uint64_t offset, std::span<const uint8_t> data) override {
    const uint64_t gb = h_.grain_bytes();
    std::vector<uint8_t> out;
    std::vector<uint8_t> grain(gb);
    for (uint64_t pos = 0; pos < data.size(); pos += gb) {
      uint64_t n = std::min<uint64_t>(gb, data.size() - pos);
      std::memcpy(grain.data(), data.data() + pos, n);
      std::memset(grain.data() + n, 0, gb - n);
      ASSIGN_OR_RETURN(std::vector<uint8_t> packed, Compress(Codec::kZlib, grain, 2 * gb));
      if (packed.empty()) return Error(ErrorCode::kInternal, "zlib could not compress a grain");
      size_t at = out.size();
      out.resize(at + SectorsFor(12 + packed.size()) * kSector, 0);
      StoreLE64(&out[at], (offset + pos) / kSector);
      StoreLE32(&out[at + 8], uint32_t(packed.size()));
      std::memcpy(&out[at + 12], packed.data(), packed.size());
    }
    return out;
  }

  Status WritePrepared(uint64_t, std::vector<uint8_t> prepared) override {
    for (uint64_t at = 0; at < prepared.size();) {
      uint64_t lba = LoadLE64(&prepared[at]);
      uint64_t len = SectorsFor(12 + LoadLE32(&prepared[at + 8])) * kSector;
      gt_[lba / h_.grain_size] = uint32_t(next_ + at / kSector);
      at += len;
    }
    RETURN_IF_ERROR(file_.WriteAt(next_ * kSector, prepared));
    next_ += prepared.size() / kSector;
    if (next_ > kMaxFileSectors) {
      return Error(ErrorCode::kResourceExhausted, "vmdk files cannot grow past 2 TiB");
    }
    return OkStatus();
  }

  Status WriteZeroes(uint64_t, uint64_t) override { return OkStatus(); }

  Status Finish() override {
    const uint64_t gt_sectors = SectorsFor(uint64_t(h_.gtes_per_gt) * 4);
    std::vector<uint32_t> gd(h_.gd_entries(), 0);
    for (uint64_t i = 0; i < gd.size(); ++i) {
      auto first = gt_.begin() + i * h_.gtes_per_gt;
      if (std::all_of(first, first + h_.gtes_per_gt, [](uint32_t e) { return e == 0; })) continue;
      RETURN_IF_ERROR(WriteMarker(gt_sectors, kMarkerGrainTable));
      gd[i] = uint32_t(next_);
      std::vector<uint32_t> table(first, first + h_.gtes_per_gt);
      RETURN_IF_ERROR(Append(EncodeU32s(table, gt_sectors * kSector)));
    }
    const uint64_t gd_sectors = SectorsFor(gd.size() * 4);
    RETURN_IF_ERROR(WriteMarker(gd_sectors, kMarkerGrainDirectory));
    SparseHeader footer = h_;
    footer.gd_offset = next_;
    RETURN_IF_ERROR(Append(EncodeU32s(gd, gd_sectors * kSector)));
    RETURN_IF_ERROR(WriteMarker(1, kMarkerFooter));
    std::vector<uint8_t> sector(kSector, 0);
    EncodeSparseHeader(footer, sector.data());
    RETURN_IF_ERROR(Append(sector));
    RETURN_IF_ERROR(Append(std::vector<uint8_t>(kSector, 0)));  // end of stream
    RETURN_IF_ERROR(WriteHeaderAndDescriptor(file_, h_, descriptor_));
    return file_.Sync();
  }

  // Grains are appended in offset order, so the state is how far the file
  // got (next_) and where each grain landed; the engine checkpoints only
  // between whole tasks, so next_ is always a grain boundary.
  Result<std::optional<std::vector<uint8_t>>> SaveState() override {
    return std::optional<std::vector<uint8_t>>(
        PackGrainState(kStateStream, cid_, next_, gt_, h_.gtes_per_gt));
  }
  // Grains appended after the checkpoint are cut off, so that the stream
  // goes on in order from the last grain the checkpoint vouches for.
  Status LoadState(std::span<const uint8_t> state) {
    RETURN_IF_ERROR(
        UnpackGrainState(state, kStateStream, h_.overhead, 1, &cid_, &next_, gt_, h_.gtes_per_gt));
    ASSIGN_OR_RETURN(uint64_t have, file_.Size());
    if (have < next_ * kSector) {
      return Error(ErrorCode::kCorrupt, file_.path() + " is shorter than its checkpoint says");
    }
    return file_.Truncate(next_ * kSector);
  }
  Status Flush() override { return file_.Sync(); }

 private:
  Status WriteMarker(uint64_t sectors, uint32_t type) {
    std::vector<uint8_t> marker(kSector, 0);
    StoreLE64(&marker[0], sectors);
    StoreLE32(&marker[12], type);
    return Append(marker);
  }

  Status Append(const std::vector<uint8_t>& bytes) {
    RETURN_IF_ERROR(file_.WriteAt(next_ * kSector, bytes));
    next_ += bytes.size() / kSector;
    return OkStatus();
  }

  ImageFile file_;
  SparseHeader h_;
  std::string descriptor_;
  uint32_t cid_;
  uint64_t next_;
  std::vector<uint32_t> gt_;
};

// What CreateVmdk and ResumeVmdk both need: the header, the subformat
// and the descriptor's pieces, from the options.
struct Setup {
  SparseHeader h;
  std::string subformat;
  std::string adapter;
  std::string name;
};

Result<Setup> SetupFor(const std::string& path, uint64_t size, const CreateOptions& o) {
  if (size % kSector)
    return Error(ErrorCode::kInvalidArgument, "vmdk sizes must be a multiple of 512");
  Setup s;
  s.subformat = o.subformat.empty() ? "monolithicSparse" : o.subformat;
  if (s.subformat != "monolithicSparse" && s.subformat != "streamOptimized") {
    return Error(ErrorCode::kUnimplemented,
                 "ferry image: vmdk " + s.subformat +
                     " write is not implemented (monolithicSparse, streamOptimized)");
  }
  s.adapter = o.adapter_type.empty() ? "ide" : o.adapter_type;
  if (s.adapter != "ide" && s.adapter != "lsilogic" && s.adapter != "buslogic" &&
      s.adapter != "legacyESX") {
    return Error(ErrorCode::kInvalidArgument,
                 "vmdk adapter_type must be ide, lsilogic, buslogic or legacyESX");
  }
  if (o.cluster_size && o.cluster_size != kGrainSectors * kSector) {
    return Error(ErrorCode::kInvalidArgument, "vmdk grains are 64 KiB here");
  }
  s.h.version = 1;
  s.h.flags = kFlagNewlineTest | kFlagRedundantGt;
  s.h.capacity = size / kSector;
  s.h.grain_size = kGrainSectors;
  s.h.gtes_per_gt = 512;
  s.name = o.final_name.empty() ? path.substr(path.rfind('/') + 1) : o.final_name;
  // The CID is not part of the length check: it is always 8 digits.
  if (MakeDescriptor(s.subformat, s.name, s.h.capacity, s.adapter, 0).size() >
      kDescriptorSectors * kSector) {
    return Error(ErrorCode::kInvalidArgument, "vmdk file name is too long for the descriptor");
  }
  return s;
}

std::unique_ptr<ImageWriter> MakeWriter(ImageFile file, const Setup& s, uint32_t cid) {
  std::string descriptor = MakeDescriptor(s.subformat, s.name, s.h.capacity, s.adapter, cid);
  if (s.subformat == "streamOptimized") {
    return std::make_unique<StreamWriter>(std::move(file), s.h, std::move(descriptor), cid);
  }
  return std::make_unique<SparseWriter>(std::move(file), s.h, std::move(descriptor), cid);
}

}  // namespace

Result<std::unique_ptr<ImageWriter>> CreateVmdk(const std::string& path, uint64_t size,
                                                const CreateOptions& o) {
  ASSIGN_OR_RETURN(Setup s, SetupFor(path, size, o));
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(path));
  if (!o.flush) file.DisableSync();
  std::random_device rd;
  return MakeWriter(std::move(file), s, rd());
}

Result<std::unique_ptr<ImageWriter>> ResumeVmdk(const std::string& path, uint64_t size,
                                                const CreateOptions& o,
                                                std::span<const uint8_t> state) {
  ASSIGN_OR_RETURN(Setup s, SetupFor(path, size, o));
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
  if (!o.flush) file.DisableSync();
  // The CID is in the state; the descriptor is rebuilt once it is known.
  StateUnpacker head(state);
  head.Get(4);
  const uint32_t cid = uint32_t(head.Get(4));
  std::string descriptor = MakeDescriptor(s.subformat, s.name, s.h.capacity, s.adapter, cid);
  if (s.subformat == "streamOptimized") {
    auto w = std::make_unique<StreamWriter>(std::move(file), s.h, std::move(descriptor), cid);
    RETURN_IF_ERROR(w->LoadState(state));
    return std::unique_ptr<ImageWriter>(std::move(w));
  }
  auto w = std::make_unique<SparseWriter>(std::move(file), s.h, std::move(descriptor), cid);
  RETURN_IF_ERROR(w->LoadState(state));
  return std::unique_ptr<ImageWriter>(std::move(w));
}

}  // namespace ferry::image
