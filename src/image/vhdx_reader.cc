// VHDX reader: fixed, dynamic and differencing (over a parent VHDX, as
// Hyper-V checkpoints are). See vhdx_format.h for the layout. Every payload
// and sector bitmap block the BAT names is checked at open: inside the file,
// clear of the headers, log, BAT and metadata, and not shared with another
// block.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/endian.h"
#include "image/file.h"
#include "image/reader_util.h"
#include "image/vhdx.h"
#include "image/vhdx_format.h"
#include "image/vhdx_log.h"

namespace ferry::image {
namespace {

using namespace vhdx;

// The file as the reader sees it: with the log's active sequence replayed
// over it in memory when the image was not closed cleanly.
class FileView {
 public:
  FileView(const ImageFile& file, uint64_t file_size, const LogOverlay& log)
      : file_(file), file_size_(file_size), log_(log) {}
  const std::string& path() const { return file_.path(); }
  uint64_t size() const { return log_.empty() ? file_size_ : log_.file_size(); }

  Status ReadAt(uint64_t offset, std::span<uint8_t> out, const char* what) const {
    if (log_.empty()) return file_.ReadAt(offset, out, what);
    if (offset > size() || out.size() > size() - offset) {
      return Error(ErrorCode::kCorrupt, std::string(what) + " lies past the end of the file");
    }
    // The log may have grown the file (LastFileOffset): past its end, zeros.
    const uint64_t stored =
        offset >= file_size_ ? 0 : std::min<uint64_t>(out.size(), file_size_ - offset);
    if (stored) RETURN_IF_ERROR(file_.ReadAt(offset, out.subspan(0, stored), what));
    std::memset(out.data() + stored, 0, out.size() - stored);
    log_.Apply(offset, out);
    return OkStatus();
  }

 private:
  const ImageFile& file_;
  uint64_t file_size_;
  const LogOverlay& log_;
};

// Where a payload block's bytes come from.
enum class Source : uint8_t { kZero, kFile, kPartial, kParent };

struct Block {
  Source source = Source::kZero;
  uint64_t host = 0;  // kFile, kPartial: where the block lies in this file
};

class VhdxReader : public ImageReader {
 public:
  VhdxReader(ImageFile file, uint64_t file_size, LogOverlay log, Metadata m,
             std::vector<Block> blocks, std::vector<uint64_t> bitmaps,
             std::unique_ptr<ImageReader> parent, std::string parent_path)
      : file_(std::move(file)),
        file_size_(file_size),
        log_(std::move(log)),
        m_(std::move(m)),
        blocks_(std::move(blocks)),
        bitmaps_(std::move(bitmaps)),
        parent_(std::move(parent)),
        parent_path_(std::move(parent_path)) {}

  uint64_t virtual_size() const override { return m_.virtual_size; }
  ImageReader* backing() const override { return parent_.get(); }

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
    if (!log_.empty()) {
      d.specific.emplace_back("log", std::to_string(log_.entries()) +
                                         " entries replayed in memory (the file is unchanged)");
    }
    if (m_.has_parent) {
      d.specific.emplace_back("subformat", "differencing");
      d.specific.emplace_back("parent linkage", m_.ParentValue("parent_linkage"));
      d.backing_file = m_.ParentValue("relative_path");
      if (d.backing_file.empty()) d.backing_file = m_.ParentValue("absolute_win32_path");
      d.backing_path = parent_path_;
      d.backing_format = Format::kVhdx;
    }
    return d;
  }

  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    if (!m_.has_parent && log_.empty()) {
      return ReadByExtents(*this, file_, offset, out, "vhdx block");
    }
    return ReadLayered(
        *this, parent_.get(),
        [this](uint64_t host, std::span<uint8_t> part) {
          return View().ReadAt(host, part, "vhdx block");
        },
        offset, out);
  }

  Result<Extent> Map(uint64_t offset, uint64_t max_length) override {
    const uint64_t bs = m_.block_size;
    const uint64_t end = offset + std::min(max_length, m_.virtual_size - offset);
    uint64_t block = offset / bs;
    Extent e;
    e.start = offset;
    e.length = std::min(end, (block + 1) * bs) - offset;
    const Block first = blocks_[block];
    if (first.source == Source::kParent) return MapParent(e);
    if (first.source == Source::kPartial) return MapPartial(e, block);
    if (first.source == Source::kZero) {
      e.zero = true;
    } else {
      e.data = e.present = true;
      e.host_offset = first.host + offset % bs;
    }
    // Merge following blocks of the same kind (contiguous on the host for data).
    while (e.start + e.length < end) {
      const Block next = blocks_[++block];
      if (next.source != first.source) break;
      if (first.source == Source::kFile && next.host != *e.host_offset + e.length) break;
      e.length = std::min(end, (block + 1) * bs) - offset;
    }
    if (e.data) NarrowToHostHoles(e);
    if (m_.has_parent && e.zero) e.present = true;  // zeros that hide the parent
    return e;
  }

 private:
  Result<Extent> MapParent(Extent e) const { return MapFromParent(parent_.get(), e); }

  // A partially present block: the chunk's sector bitmap (bit 0 of byte 0 is
  // the chunk's first sector) says which sectors this file holds.
  Result<Extent> MapPartial(Extent e, uint64_t block) const {
    const uint64_t lss = m_.logical_sector_size;
    const uint64_t ratio = ChunkRatio(m_);
    const uint64_t in_block = e.start % m_.block_size;
    const uint64_t first = (block % ratio) * (m_.block_size / lss) + in_block / lss;
    const uint64_t last = first + (in_block + e.length - 1) / lss - in_block / lss;
    std::vector<uint8_t> bits(last / 8 - first / 8 + 1);
    RETURN_IF_ERROR(file_.ReadAt(bitmaps_[block / ratio] + first / 8, bits, "vhdx sector bitmap"));
    auto present = [&](uint64_t sector) {
      return (bits[sector / 8 - first / 8] >> (sector % 8)) & 1;
    };
    uint64_t sector = first;
    while (sector < last && present(sector + 1) == present(first)) ++sector;
    e.length = std::min(e.length, (sector - first + 1) * lss - in_block % lss);
    if (!present(first)) return MapParent(e);
    e.data = e.present = true;
    e.host_offset = blocks_[block].host + in_block;
    return e;
  }

  // Writers (qemu-img among them) leave the unwritten parts of a block as
  // holes in the host file: report those as zeros so that they are not read.
  void NarrowToHostHoles(Extent& e) const {
    if (file_.is_block_device() || !log_.empty()) return;
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

  FileView View() const { return FileView(file_, file_size_, log_); }

  ImageFile file_;
  uint64_t file_size_;
  LogOverlay log_;
  Metadata m_;
  std::vector<Block> blocks_;
  std::vector<uint64_t> bitmaps_;  // differencing: each chunk's sector bitmap block, 0 = none
  std::unique_ptr<ImageReader> parent_;
  std::string parent_path_;
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

Result<RegionTable> ReadRegions(const FileView& file, uint64_t file_size) {
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

Result<Metadata> ReadMetadata(const FileView& file, const Region& region) {
  std::vector<uint8_t> table(kMetadataTableSize);
  RETURN_IF_ERROR(file.ReadAt(region.offset, table, "vhdx metadata table"));
  ASSIGN_OR_RETURN(std::vector<MetadataItem> items, ParseMetadataTable(table, region.length));
  Metadata m;
  bool saw[3] = {};
  const Guid ids[3] = {GuidFromString("CAA16737-FA36-4D43-B3B6-33F0AA44E76B"),
                       GuidFromString("2FA54224-CD1B-4876-B211-5DBED83BF4B8"),
                       GuidFromString("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")};
  for (const MetadataItem& item : items) {
    // Fixed-size items need 16 bytes at most; the parent locator is longer.
    std::vector<uint8_t> data(std::min<uint32_t>(item.length, kMaxParentLocator));
    if (data.size() > 16 && item.id != GuidFromString("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")) {
      data.resize(16);
    }
    RETURN_IF_ERROR(file.ReadAt(region.offset + item.offset, data, "vhdx metadata item"));
    RETURN_IF_ERROR(ParseMetadataItem(item, data, m));
    for (int i = 0; i < 3; ++i) saw[i] |= item.id == ids[i];
  }
  RETURN_IF_ERROR(ValidateMetadata(m, saw[0], saw[1], saw[2]));
  return m;
}

// The log's active sequence, replayed in memory (an image that was not
// closed cleanly); an empty overlay when the log holds nothing to replay.
Result<LogOverlay> ReplayLog(const ImageFile& file, const Header& h, uint64_t file_size) {
  if (IsZeroGuid(h.log_guid) || h.log_length == 0) return LogOverlay::Replay({}, h.log_guid, 0);
  if (h.log_offset > file_size || h.log_length > file_size - h.log_offset) {
    return Error(ErrorCode::kCorrupt, "vhdx: log lies past the end of the file");
  }
  if (h.log_length > 64 * kMiB) {
    return Error(ErrorCode::kUnimplemented, "vhdx: log larger than 64 MiB is not supported");
  }
  std::vector<uint8_t> log(h.log_length);
  RETURN_IF_ERROR(file.ReadAt(h.log_offset, log, "vhdx log"));
  return LogOverlay::Replay(log, h.log_guid, file_size);
}

struct BlockMap {
  std::vector<Block> blocks;
  std::vector<uint64_t> bitmaps;
};

// The payload blocks (and, for a differencing disk, the sector bitmap
// blocks) from the BAT, each checked.
Result<BlockMap> ReadBlocks(const FileView& file, uint64_t file_size, const Header& h,
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
  auto place = [&](uint64_t start, uint64_t stored, uint64_t span,
                   const std::string& where) -> Status {
    if (start > file_size || stored > file_size - start) {
      return Error(ErrorCode::kCorrupt, where + " at offset " + std::to_string(start) +
                                            " lies past the end of the file");
    }
    used.emplace_back(start, start + span);
    return OkStatus();
  };
  BlockMap out;
  out.blocks.resize(blocks);
  if (m.has_parent) {
    out.bitmaps.resize((blocks + ratio - 1) / ratio);
    for (uint64_t c = 0; c < out.bitmaps.size(); ++c) {
      const uint64_t entry = LoadLE64(&raw[SectorBitmapIndex(c, ratio) * 8]);
      if (EntryState(entry) != kSectorBitmapPresent) continue;
      out.bitmaps[c] = EntryOffset(entry);
      RETURN_IF_ERROR(place(out.bitmaps[c], kMiB, kMiB,
                            file.path() + ": sector bitmap block " + std::to_string(c)));
    }
  }
  for (uint64_t b = 0; b < blocks; ++b) {
    uint64_t entry = LoadLE64(&raw[PayloadIndex(b, ratio) * 8]);
    uint8_t state = EntryState(entry);
    std::string where = file.path() + ": block " + std::to_string(b);
    Block& block = out.blocks[b];
    if (state == kPayloadPartiallyPresent) {
      if (!m.has_parent) {
        return Error(ErrorCode::kCorrupt, where + " is partially present in a disk without parent");
      }
      if (out.bitmaps[b / ratio] == 0) {
        return Error(ErrorCode::kCorrupt, where +
                                              " is partially present but its chunk has no "
                                              "sector bitmap");
      }
      block.source = Source::kPartial;
    } else if (state == kPayloadFullyPresent) {
      block.source = Source::kFile;
    } else if (state > kPayloadUnmapped) {
      return Error(ErrorCode::kCorrupt, where + " has invalid state " + std::to_string(state));
    } else {
      // Not present or undefined: the parent's bytes in a differencing disk;
      // zero and unmapped: zeros either way.
      const bool from_parent = state == kPayloadNotPresent || state == kPayloadUndefined;
      block.source = m.has_parent && from_parent ? Source::kParent : Source::kZero;
      continue;
    }
    block.host = EntryOffset(entry);
    // The last block need only be stored up to the end of the virtual disk.
    uint64_t length = std::min<uint64_t>(m.block_size, m.virtual_size - b * m.block_size);
    RETURN_IF_ERROR(place(block.host, length, m.block_size, where));
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

// The paths a differencing disk's locator names, most specific first:
// relative_path (against the child's directory), then the parent's file name
// beside the child (absolute Windows and volume paths mean nothing here, but
// a copied chain keeps its files together).
std::vector<std::string> ParentCandidates(const std::string& child, const Metadata& m) {
  std::vector<std::string> out;
  auto unixify = [](std::string p) {
    std::replace(p.begin(), p.end(), '\\', '/');
    return p;
  };
  std::string relative = unixify(m.ParentValue("relative_path"));
  if (!relative.empty() && relative[0] != '/' && relative.find(':') == std::string::npos) {
    out.push_back(
        std::filesystem::path(ResolveRelative(child, relative)).lexically_normal().string());
  }
  for (const char* key : {"relative_path", "absolute_win32_path", "volume_path"}) {
    std::string path = unixify(m.ParentValue(key));
    if (path.empty()) continue;
    out.push_back(ResolveRelative(child, path.substr(path.rfind('/') + 1)));
  }
  return out;
}

// Opens the parent and checks that it is the disk the child was made from:
// its DataWriteGuid is the child's parent_linkage (or parent_linkage2).
Result<std::unique_ptr<ImageReader>> OpenParent(const std::string& child, const Metadata& m,
                                                const OpenOptions& options,
                                                std::string* parent_path) {
  const std::optional<Guid> linkage = ParseGuidText(m.ParentValue("parent_linkage"));
  const std::optional<Guid> linkage2 = ParseGuidText(m.ParentValue("parent_linkage2"));
  for (const std::string& candidate : ParentCandidates(child, m)) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(candidate, ec)) continue;
    ASSIGN_OR_RETURN(ImageFile parent_file, ImageFile::Open(candidate, false));
    Result<Header> header = ReadHeaders(parent_file);
    if (!header.ok()) return std::move(header).error().WithContext(child + ": parent " + candidate);
    if (header->data_write_guid != *linkage &&
        (!linkage2 || header->data_write_guid != *linkage2)) {
      return Error(ErrorCode::kCorrupt, child + ": parent " + candidate + " has DataWriteGuid " +
                                            GuidText(header->data_write_guid) +
                                            ", the differencing disk was made from " +
                                            GuidText(*linkage) +
                                            " (the parent was replaced or written to)");
    }
    OpenOptions sub;
    sub.format = Format::kVhdx;
    sub.chain = options.chain;
    Result<std::unique_ptr<ImageReader>> parent = OpenImage(candidate, sub);
    if (!parent.ok()) return std::move(parent).error().WithContext(child + ": parent");
    *parent_path = candidate;
    return parent;
  }
  return Error(ErrorCode::kNotFound,
               child + ": parent '" + m.ParentValue("relative_path") +
                   "' of this differencing VHDX not found (looked where its locator points and "
                   "beside it)");
}

}  // namespace

Result<std::unique_ptr<ImageReader>> OpenVhdx(const std::string& path, const OpenOptions& options) {
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
  Result<LogOverlay> log = ReplayLog(file, *header, file_size);
  if (!log.ok()) return in_context(std::move(log).error());
  const FileView view(file, file_size, *log);
  Result<RegionTable> regions = ReadRegions(view, view.size());
  if (!regions.ok()) return in_context(std::move(regions).error());
  Result<Metadata> m = ReadMetadata(view, regions->metadata);
  if (!m.ok()) return in_context(std::move(m).error());
  ASSIGN_OR_RETURN(BlockMap blocks, ReadBlocks(view, view.size(), *header, *regions, *m));
  std::unique_ptr<ImageReader> parent;
  std::string parent_path;
  if (m->has_parent && options.open_backing) {
    ASSIGN_OR_RETURN(parent, OpenParent(path, *m, options, &parent_path));
  }
  return std::unique_ptr<ImageReader>(new VhdxReader(
      std::move(file), file_size, std::move(*log), std::move(*m), std::move(blocks.blocks),
      std::move(blocks.bitmaps), std::move(parent), parent_path));
}

}  // namespace ferry::image
