// VHDX reader (fixed and dynamic; differencing images are refused). See
// vhdx_format.h for the layout. Every payload block the BAT names is checked
// at open: inside the file, clear of the headers, log, BAT and metadata, and
// not shared with another block.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/endian.h"
#include "image/file.h"
#include "image/reader_util.h"
#include "image/vhdx.h"
#include "image/vhdx_format.h"

namespace ferry::image {
namespace {

using namespace vhdx;

class VhdxReader : public ImageReader {
 public:
  VhdxReader(ImageFile file, Metadata m, std::vector<uint64_t> blocks)
      : file_(std::move(file)), m_(m), blocks_(std::move(blocks)) {}

  uint64_t virtual_size() const override { return m_.virtual_size; }

  Result<ImageDetails> Details() const override {
    ImageDetails d;
    d.path = file_.path();
    d.format = Format::kVhdx;
    d.virtual_size = m_.virtual_size;
    ASSIGN_OR_RETURN(d.disk_size, file_.AllocatedBytes());
    d.cluster_size = m_.block_size;
    d.specific = {{"logical sector size", std::to_string(m_.logical_sector_size)},
                  {"physical sector size", std::to_string(m_.physical_sector_size)},
                  {"blocks preallocated", m_.leave_blocks_allocated ? "yes" : "no"}};
    return d;
  }

  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    return ReadByExtents(*this, file_, offset, out, "vhdx block");
  }

  Result<Extent> Map(uint64_t offset, uint64_t max_length) override {
    const uint64_t bs = m_.block_size;
    const uint64_t end = offset + std::min(max_length, m_.virtual_size - offset);
    uint64_t block = offset / bs;
    Extent e;
    e.start = offset;
    e.length = std::min(end, (block + 1) * bs) - offset;
    uint64_t host = blocks_[block];
    if (host == 0) {
      e.zero = true;
    } else {
      e.data = e.present = true;
      e.host_offset = host + offset % bs;
    }
    // Merge following blocks of the same kind (contiguous on the host for data).
    while (e.start + e.length < end) {
      uint64_t next = blocks_[++block];
      if ((next == 0) != (host == 0)) break;
      if (host != 0 && next != *e.host_offset + e.length) break;
      e.length = std::min(end, (block + 1) * bs) - offset;
    }
    if (e.data) NarrowToHostHoles(e);
    return e;
  }

 private:
  // Writers (qemu-img among them) leave the unwritten parts of a block as
  // holes in the host file: report those as zeros so that they are not read.
  void NarrowToHostHoles(Extent& e) const {
    if (file_.is_block_device()) return;
    const off_t start = off_t(*e.host_offset);
    off_t data = ::lseek(file_.fd(), start, SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) return;  // no SEEK_DATA: everything counts as data
      data = off_t(start + e.length);
    }
    if (data > start) {
      e.length = std::min<uint64_t>(e.length, uint64_t(data - start));
      e.data = e.present = false;
      e.zero = true;
      e.host_offset.reset();
      return;
    }
    off_t hole = ::lseek(file_.fd(), start, SEEK_HOLE);
    if (hole > start) e.length = std::min<uint64_t>(e.length, uint64_t(hole - start));
  }

  ImageFile file_;
  Metadata m_;
  std::vector<uint64_t> blocks_;  // host offset of each payload block, 0 = reads as zeros
};

Result<Header> ReadHeaders(const ImageFile& file) {
  std::vector<uint8_t> buf(kHeaderSize);
  Result<Header> h[2] = {Error(ErrorCode::kCorrupt, ""), Error(ErrorCode::kCorrupt, "")};
  for (int i = 0; i < 2; ++i) {
    RETURN_IF_ERROR(file.ReadAt(kHeaderOffset[i], buf, "vhdx header"));
    h[i] = ParseHeader(buf);
  }
  return PickHeader(std::move(h[0]), std::move(h[1]));
}

Result<RegionTable> ReadRegions(const ImageFile& file, uint64_t file_size) {
  std::vector<uint8_t> buf(kRegionTableSize);
  RETURN_IF_ERROR(file.ReadAt(kRegionTableOffset[0], buf, "vhdx region table"));
  Result<RegionTable> t = ParseRegionTable(buf, file_size);
  if (t.ok()) return t;
  // The second copy is there for when the first is damaged.
  RETURN_IF_ERROR(file.ReadAt(kRegionTableOffset[1], buf, "vhdx region table"));
  Result<RegionTable> copy = ParseRegionTable(buf, file_size);
  if (copy.ok()) return copy;
  return t;
}

Result<Metadata> ReadMetadata(const ImageFile& file, const Region& region) {
  std::vector<uint8_t> table(kMetadataTableSize);
  RETURN_IF_ERROR(file.ReadAt(region.offset, table, "vhdx metadata table"));
  ASSIGN_OR_RETURN(std::vector<MetadataItem> items, ParseMetadataTable(table, region.length));
  Metadata m;
  bool saw[3] = {};
  const Guid ids[3] = {GuidFromString("CAA16737-FA36-4D43-B3B6-33F0AA44E76B"),
                       GuidFromString("2FA54224-CD1B-4876-B211-5DBED83BF4B8"),
                       GuidFromString("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")};
  for (const MetadataItem& item : items) {
    uint8_t data[16] = {};
    std::span<uint8_t> span(data, std::min<uint32_t>(item.length, sizeof data));
    RETURN_IF_ERROR(file.ReadAt(region.offset + item.offset, span, "vhdx metadata item"));
    RETURN_IF_ERROR(ParseMetadataItem(item, span, m));
    for (int i = 0; i < 3; ++i) saw[i] |= item.id == ids[i];
  }
  RETURN_IF_ERROR(ValidateMetadata(m, saw[0], saw[1], saw[2]));
  return m;
}

// Refuses an image whose log still holds entries: its metadata is only
// consistent after a replay, which this read-only reader does not do.
Status CheckLog(const ImageFile& file, const Header& h, uint64_t file_size) {
  if (IsZeroGuid(h.log_guid) || h.log_length == 0) return OkStatus();
  if (h.log_offset > file_size || h.log_length > file_size - h.log_offset) {
    return Error(ErrorCode::kCorrupt, "vhdx: log lies past the end of the file");
  }
  if (h.log_length > 64 * kMiB) {
    return Error(ErrorCode::kUnimplemented, "vhdx: log larger than 64 MiB is not supported");
  }
  std::vector<uint8_t> log(h.log_length);
  RETURN_IF_ERROR(file.ReadAt(h.log_offset, log, "vhdx log"));
  if (LogHasEntries(log, h.log_guid)) {
    return Error(ErrorCode::kUnimplemented,
                 "vhdx: the log holds entries that need replaying (the image was not closed "
                 "cleanly); replaying the log is not implemented");
  }
  return OkStatus();
}

// The payload blocks' host offsets from the BAT, each checked.
Result<std::vector<uint64_t>> ReadBlocks(const ImageFile& file, uint64_t file_size, const Header& h,
                                         const RegionTable& regions, const Metadata& m) {
  const uint64_t entries = BatEntries(m);
  if (entries > regions.bat.length / 8) {
    return Error(ErrorCode::kCorrupt, "vhdx: block allocation table has " +
                                          std::to_string(regions.bat.length / 8) +
                                          " entries, the disk needs " + std::to_string(entries));
  }
  std::vector<uint8_t> raw(entries * 8);
  RETURN_IF_ERROR(file.ReadAt(regions.bat.offset, raw, "vhdx block allocation table"));
  const uint64_t ratio = ChunkRatio(m);
  const uint64_t blocks = DataBlocks(m);
  // Spans a block may not touch: the first MiB, the log, the BAT, the metadata.
  std::vector<std::pair<uint64_t, uint64_t>> used = {
      {0, kMiB},
      {h.log_offset, h.log_offset + h.log_length},
      {regions.bat.offset, regions.bat.offset + regions.bat.length},
      {regions.metadata.offset, regions.metadata.offset + regions.metadata.length}};
  std::vector<uint64_t> out(blocks);
  for (uint64_t b = 0; b < blocks; ++b) {
    uint64_t entry = LoadLE64(&raw[PayloadIndex(b, ratio) * 8]);
    uint8_t state = EntryState(entry);
    std::string where = file.path() + ": block " + std::to_string(b);
    if (state == kPayloadPartiallyPresent) {
      return Error(ErrorCode::kCorrupt, where + " is partially present in a disk without parent");
    }
    if (state != kPayloadFullyPresent) {
      if (state > kPayloadUnmapped) {
        return Error(ErrorCode::kCorrupt, where + " has invalid state " + std::to_string(state));
      }
      continue;
    }
    uint64_t start = EntryOffset(entry);
    // The last block need only be stored up to the end of the virtual disk.
    uint64_t length = std::min<uint64_t>(m.block_size, m.virtual_size - b * m.block_size);
    if (start > file_size || length > file_size - start) {
      return Error(ErrorCode::kCorrupt, where + " at offset " + std::to_string(start) +
                                            " lies past the end of the file");
    }
    out[b] = start;
    used.emplace_back(start, start + m.block_size);
  }
  std::sort(used.begin(), used.end());
  uint64_t reach = 0;  // the furthest end of the spans so far
  for (auto [start, end] : used) {
    if (start == end) continue;  // no log
    if (start < reach) {
      return Error(ErrorCode::kCorrupt, file.path() + ": a data block at offset " +
                                            std::to_string(start) +
                                            " overlaps metadata or another block");
    }
    reach = end;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ImageReader>> OpenVhdx(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (file_size < kMiB) return Error(ErrorCode::kCorrupt, path + ": too short for a VHDX image");
  uint8_t magic[8];
  RETURN_IF_ERROR(file.ReadAt(0, magic, "vhdx file identifier"));
  if (std::memcmp(magic, "vhdxfile", 8) != 0) {
    return Error(ErrorCode::kCorrupt, path + ": not a VHDX image (no 'vhdxfile' identifier)");
  }
  auto in_context = [&](Error e) { return std::move(e).WithContext(path); };
  Result<Header> header = ReadHeaders(file);
  if (!header.ok()) return in_context(std::move(header).error());
  if (Status st = CheckLog(file, *header, file_size); !st.ok()) {
    return in_context(std::move(st).error());
  }
  Result<RegionTable> regions = ReadRegions(file, file_size);
  if (!regions.ok()) return in_context(std::move(regions).error());
  Result<Metadata> m = ReadMetadata(file, regions->metadata);
  if (!m.ok()) return in_context(std::move(m).error());
  ASSIGN_OR_RETURN(std::vector<uint64_t> blocks,
                   ReadBlocks(file, file_size, *header, *regions, *m));
  return std::unique_ptr<ImageReader>(new VhdxReader(std::move(file), *m, std::move(blocks)));
}

}  // namespace ferry::image
