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

namespace ferry::image {
namespace {

using namespace vmdk;

constexpr uint64_t kDescriptorSectors = 20;
constexpr uint64_t kGrainSectors = 128;                  // 64 KiB, as VMware and qemu
constexpr uint64_t kMaxFileSectors = uint64_t(1) << 32;  // grain table entries are 32-bit

uint64_t SectorsFor(uint64_t bytes) {
  return (bytes + kSector - 1) / kSector;
}

std::string MakeDescriptor(const std::string& create_type, const std::string& file,
                           uint64_t sectors, const std::string& adapter) {
  uint64_t cylinders = std::min<uint64_t>(sectors / (16 * 63), 16383);
  std::random_device rd;
  char cid[16];
  std::snprintf(cid, sizeof cid, "%08x", rd());
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

class SparseWriter : public ImageWriter {
 public:
  SparseWriter(ImageFile file, SparseHeader h, std::string descriptor)
      : file_(std::move(file)), h_(h), descriptor_(std::move(descriptor)) {
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

 private:
  ImageFile file_;
  SparseHeader h_;
  std::string descriptor_;
  std::mutex mu_;
  uint64_t next_;             // next free sector
  std::vector<uint32_t> gt_;  // all grain table entries, in grain order
};

class StreamWriter : public ImageWriter {
 public:
  StreamWriter(ImageFile file, SparseHeader h, std::string descriptor)
      : file_(std::move(file)), h_(h), descriptor_(std::move(descriptor)) {
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
  uint64_t next_;
  std::vector<uint32_t> gt_;
};

}  // namespace

Result<std::unique_ptr<ImageWriter>> CreateVmdk(const std::string& path, uint64_t size,
                                                const CreateOptions& o) {
  if (size % kSector)
    return Error(ErrorCode::kInvalidArgument, "vmdk sizes must be a multiple of 512");
  std::string sub = o.subformat.empty() ? "monolithicSparse" : o.subformat;
  if (sub != "monolithicSparse" && sub != "streamOptimized") {
    return Error(ErrorCode::kUnimplemented,
                 "ferry image: vmdk " + sub +
                     " write is not implemented (monolithicSparse, streamOptimized)");
  }
  std::string adapter = o.adapter_type.empty() ? "ide" : o.adapter_type;
  if (adapter != "ide" && adapter != "lsilogic" && adapter != "buslogic" &&
      adapter != "legacyESX") {
    return Error(ErrorCode::kInvalidArgument,
                 "vmdk adapter_type must be ide, lsilogic, buslogic or legacyESX");
  }
  if (o.cluster_size && o.cluster_size != kGrainSectors * kSector) {
    return Error(ErrorCode::kInvalidArgument, "vmdk grains are 64 KiB here");
  }
  SparseHeader h;
  h.version = 1;
  h.flags = kFlagNewlineTest | kFlagRedundantGt;
  h.capacity = size / kSector;
  h.grain_size = kGrainSectors;
  h.gtes_per_gt = 512;
  std::string name = o.final_name.empty() ? path.substr(path.rfind('/') + 1) : o.final_name;
  std::string descriptor = MakeDescriptor(sub, name, h.capacity, adapter);
  if (descriptor.size() > kDescriptorSectors * kSector) {
    return Error(ErrorCode::kInvalidArgument, "vmdk file name is too long for the descriptor");
  }
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(path));
  if (!o.flush) file.DisableSync();
  if (sub == "streamOptimized") {
    return std::unique_ptr<ImageWriter>(new StreamWriter(std::move(file), h, descriptor));
  }
  return std::unique_ptr<ImageWriter>(new SparseWriter(std::move(file), h, descriptor));
}

}  // namespace ferry::image
