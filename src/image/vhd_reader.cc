#include <algorithm>
#include <cstring>
#include <filesystem>

#include "base/endian.h"
#include "image/file.h"
#include "image/reader_util.h"
#include "image/vhd.h"
#include "image/vhd_format.h"

namespace ferry::image {
namespace {

using namespace vhd;

class VhdReader : public ImageReader {
 public:
  VhdReader(ImageFile file, uint64_t file_size, Footer footer, DynamicHeader dyn,
            std::vector<uint32_t> bat, std::unique_ptr<ImageReader> parent, std::string parent_path)
      : file_(std::move(file)),
        file_size_(file_size),
        footer_(footer),
        dyn_(std::move(dyn)),
        bat_(std::move(bat)),
        size_(footer.VirtualSize()),
        bitmap_bytes_((dyn_.block_size / kSector / 8 + kSector - 1) / kSector * kSector),
        parent_(std::move(parent)),
        parent_path_(std::move(parent_path)) {}

  uint64_t virtual_size() const override { return size_; }
  ImageReader* backing() const override { return parent_.get(); }

  Result<ImageDetails> Details() const override {
    ImageDetails d;
    d.path = file_.path();
    d.format = Format::kVhd;
    d.virtual_size = size_;
    ASSIGN_OR_RETURN(d.disk_size, file_.AllocatedBytes());
    const bool fixed = footer_.disk_type == kTypeFixed;
    const bool differencing = footer_.disk_type == kTypeDifferencing;
    if (!fixed) d.cluster_size = dyn_.block_size;
    d.specific = {{"subformat", fixed          ? "fixed"
                                : differencing ? "differencing"
                                               : "dynamic"},
                  {"creator", std::string(footer_.creator_app, 4)}};
    if (differencing) {
      d.backing_file = dyn_.parent_name;
      d.backing_path = parent_path_;
      d.backing_format = Format::kVhd;
    }
    return d;
  }

  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    if (footer_.disk_type != kTypeDifferencing) {
      return ReadByExtents(*this, file_, offset, out, "vhd block");
    }
    return ReadLayered(
        *this, parent_.get(),
        [this](uint64_t host, std::span<uint8_t> part) {
          return file_.ReadAt(host, part, "vhd block");
        },
        offset, out);
  }

  Result<Extent> Map(uint64_t offset, uint64_t max_length) override {
    Extent e;
    e.start = offset;
    e.length = std::min(max_length, size_ - offset);
    if (footer_.disk_type == kTypeFixed) {
      e.data = e.present = true;
      e.host_offset = offset;
      return e;
    }
    const uint64_t bs = dyn_.block_size;
    uint64_t block = offset / bs;
    e.length = std::min(e.length, bs - offset % bs);
    ASSIGN_OR_RETURN(std::optional<uint64_t> host, BlockData(block));
    if (footer_.disk_type == kTypeDifferencing) return MapDifferencing(e, host);
    if (!host) {
      e.zero = true;
      // Merge following unallocated blocks.
      while (e.start + e.length < offset + max_length && e.start + e.length < size_) {
        ASSIGN_OR_RETURN(auto next, BlockData(++block));
        if (next) break;
        e.length = std::min({offset + max_length, size_, (block + 1) * bs}) - offset;
      }
      return e;
    }
    e.data = e.present = true;
    e.host_offset = *host + offset % bs;
    while (e.start + e.length < offset + max_length && e.start + e.length < size_) {
      ASSIGN_OR_RETURN(auto next, BlockData(++block));
      if (!next || *next != *e.host_offset + e.length) break;
      e.length = std::min({offset + max_length, size_, (block + 1) * bs}) - offset;
    }
    return e;
  }

 private:
  // In a differencing disk a block's sector bitmap says which sectors this
  // file holds (bit set, most significant bit first); the others, and
  // whole unallocated blocks, are the parent's.
  Result<Extent> MapDifferencing(Extent e, std::optional<uint64_t> host) const {
    if (host) {
      const uint64_t in_block = e.start % dyn_.block_size;
      std::vector<uint8_t> bitmap(bitmap_bytes_);
      RETURN_IF_ERROR(file_.ReadAt(*host - bitmap_bytes_, bitmap, "vhd sector bitmap"));
      auto present = [&](uint64_t sector) { return (bitmap[sector / 8] >> (7 - sector % 8)) & 1; };
      const uint64_t first = in_block / kSector;
      const uint64_t last = (in_block + e.length - 1) / kSector;
      uint64_t sector = first;
      while (sector < last && present(sector + 1) == present(first)) ++sector;
      e.length = std::min(e.length, (sector + 1) * kSector - in_block);
      if (present(first)) {
        e.data = e.present = true;
        e.host_offset = *host + in_block;
        return e;
      }
    }
    return MapFromParent(parent_.get(), e);
  }

  // Where block `block`'s data starts in the file, or nullopt if unallocated.
  Result<std::optional<uint64_t>> BlockData(uint64_t block) const {
    uint32_t entry = bat_[block];
    if (entry == kUnallocated) return std::optional<uint64_t>();
    uint64_t start = uint64_t(entry) * kSector;
    uint64_t end = start + bitmap_bytes_ + dyn_.block_size;
    const uint64_t bat_end = dyn_.table_offset + uint64_t(dyn_.max_table_entries) * 4;
    std::string where =
        file_.path() + ": block " + std::to_string(block) + " at offset " + std::to_string(start);
    if (end > file_size_ - kFooterSize) {
      return Error(ErrorCode::kCorrupt, where + " lies past the end of the file");
    }
    if (start < bat_end && dyn_.table_offset < end) {
      return Error(ErrorCode::kCorrupt, where + " overlaps the block allocation table");
    }
    if (start < footer_.data_offset + kDynHeaderSize) {
      return Error(ErrorCode::kCorrupt, where + " overlaps the headers");
    }
    return std::optional<uint64_t>(start + bitmap_bytes_);
  }

  ImageFile file_;
  uint64_t file_size_;
  Footer footer_;
  DynamicHeader dyn_;
  std::vector<uint32_t> bat_;
  uint64_t size_;
  uint64_t bitmap_bytes_;
  std::unique_ptr<ImageReader> parent_;
  std::string parent_path_;
};

std::string Hex(const uint8_t* uuid) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out += kDigits[uuid[i] >> 4];
    out += kDigits[uuid[i] & 15];
  }
  return out;
}

// The paths a differencing disk's locators name, most specific first:
// relative ones (resolved against the child's directory), then absolute
// ones, then the parent's bare name beside the child (Windows drive paths
// cannot be followed on Linux, but the file often sits next to its child).
std::vector<std::string> ParentCandidates(const ImageFile& file, uint64_t file_size,
                                          const DynamicHeader& dyn) {
  std::vector<std::string> relative, absolute;
  for (const ParentLocator& l : dyn.locators) {
    if (l.code != kLocatorW2ru && l.code != kLocatorW2ku && l.code != kLocatorMacX) continue;
    if (l.data_length == 0 || l.data_length > 4096 || l.data_offset > file_size ||
        l.data_length > file_size - l.data_offset) {
      continue;
    }
    std::vector<uint8_t> raw(l.data_length);
    if (!file.ReadAt(l.data_offset, raw, "vhd parent locator").ok()) continue;
    std::string path;
    if (l.code == kLocatorMacX) {
      path.assign(raw.begin(), raw.end());
      path = path.substr(0, path.find('\0'));
      if (path.rfind("file://", 0) == 0) path = path.substr(7);
    } else {
      path = Utf16ToUtf8(raw.data(), raw.size(), /*big_endian=*/false);
      std::replace(path.begin(), path.end(), '\\', '/');
    }
    if (path.empty()) continue;
    const bool windows_drive = path.size() > 1 && path[1] == ':';
    if (l.code == kLocatorW2ku || windows_drive || path[0] == '/') {
      if (!windows_drive) absolute.push_back(path);
    } else {
      relative.push_back(
          std::filesystem::path(ResolveRelative(file.path(), path)).lexically_normal().string());
    }
  }
  std::vector<std::string> all = relative;
  all.insert(all.end(), absolute.begin(), absolute.end());
  std::string name = dyn.parent_name;
  std::replace(name.begin(), name.end(), '\\', '/');
  if (!name.empty()) all.push_back(ResolveRelative(file.path(), name.substr(name.rfind('/') + 1)));
  return all;
}

// Opens the parent a differencing disk names and checks it is the one the
// child was made from (its footer UUID).
Result<std::unique_ptr<ImageReader>> OpenParent(const ImageFile& file, uint64_t file_size,
                                                const DynamicHeader& dyn,
                                                const OpenOptions& options,
                                                std::string* parent_path) {
  const std::string& path = file.path();
  for (const std::string& candidate : ParentCandidates(file, file_size, dyn)) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(candidate, ec)) continue;
    ASSIGN_OR_RETURN(ImageFile parent_file, ImageFile::Open(candidate, false));
    uint8_t footer[kFooterSize];
    ASSIGN_OR_RETURN(uint64_t parent_size, parent_file.Size());
    if (parent_size < kFooterSize) continue;
    RETURN_IF_ERROR(parent_file.ReadAt(0, footer, "vhd footer"));
    if (std::memcmp(footer, "conectix", 8) != 0) {
      RETURN_IF_ERROR(parent_file.ReadAt(parent_size - kFooterSize, footer, "vhd footer"));
    }
    Result<Footer> f = ParseFooter(footer);
    if (!f.ok()) return std::move(f).error().WithContext(path + ": parent " + candidate);
    if (std::memcmp(f->uuid, dyn.parent_uuid, 16) != 0) {
      return Error(ErrorCode::kCorrupt,
                   path + ": parent " + candidate + " has UUID " + Hex(f->uuid) +
                       ", the differencing disk was made from " + Hex(dyn.parent_uuid) +
                       " (the parent was replaced or written to)");
    }
    OpenOptions sub;
    sub.format = Format::kVhd;
    sub.chain = options.chain;
    Result<std::unique_ptr<ImageReader>> parent = OpenImage(candidate, sub);
    if (!parent.ok()) return std::move(parent).error().WithContext(path + ": parent");
    *parent_path = candidate;
    return parent;
  }
  return Error(ErrorCode::kNotFound, path + ": parent '" + dyn.parent_name +
                                         "' of this differencing VHD not found (looked where "
                                         "its locators point and beside it)");
}

}  // namespace

Result<std::unique_ptr<ImageReader>> OpenVhd(const std::string& path, const OpenOptions& options) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (file_size < kFooterSize)
    return Error(ErrorCode::kCorrupt, path + ": too short for a VHD footer");
  uint8_t buf[kFooterSize];
  // Dynamic disks keep a copy of the footer at the start; fixed ones only at the end.
  RETURN_IF_ERROR(file.ReadAt(0, buf, "vhd footer"));
  if (std::memcmp(buf, "conectix", 8) != 0) {
    RETURN_IF_ERROR(file.ReadAt(file_size - kFooterSize, buf, "vhd footer"));
  }
  Result<Footer> footer = ParseFooter(buf);
  if (!footer.ok()) return std::move(footer).error().WithContext(path);
  DynamicHeader dyn;
  std::vector<uint32_t> bat;
  if (footer->disk_type == kTypeFixed) {
    if (footer->VirtualSize() > file_size - kFooterSize) {
      return Error(ErrorCode::kCorrupt, path + ": fixed VHD is shorter than its disk size");
    }
  } else {
    uint8_t hbuf[kDynHeaderSize];
    if (footer->data_offset > file_size || kDynHeaderSize > file_size - footer->data_offset) {
      return Error(ErrorCode::kCorrupt, path + ": dynamic header lies past the end of the file");
    }
    RETURN_IF_ERROR(file.ReadAt(footer->data_offset, hbuf, "vhd dynamic header"));
    Result<DynamicHeader> h = ParseDynamicHeader(hbuf);
    if (!h.ok()) return std::move(h).error().WithContext(path);
    dyn = *h;
    uint64_t blocks = (footer->VirtualSize() + dyn.block_size - 1) / dyn.block_size;
    if (dyn.max_table_entries < blocks) {
      return Error(ErrorCode::kCorrupt, path + ": block allocation table has " +
                                            std::to_string(dyn.max_table_entries) +
                                            " entries, the disk needs " + std::to_string(blocks));
    }
    uint64_t bat_bytes = uint64_t(dyn.max_table_entries) * 4;
    if (dyn.table_offset > file_size || bat_bytes > file_size - dyn.table_offset) {
      return Error(ErrorCode::kCorrupt,
                   path + ": block allocation table lies past the end of the file");
    }
    std::vector<uint8_t> raw(bat_bytes);
    RETURN_IF_ERROR(file.ReadAt(dyn.table_offset, raw, "vhd block allocation table"));
    bat.resize(dyn.max_table_entries);
    for (size_t i = 0; i < bat.size(); ++i) bat[i] = LoadBE32(&raw[i * 4]);
  }
  std::unique_ptr<ImageReader> parent;
  std::string parent_path;
  if (footer->disk_type == kTypeDifferencing && options.open_backing) {
    // A parent smaller than its child reads as zeros past its end, as a
    // qcow2 backing file does (ReadUnallocated, MapDifferencing).
    ASSIGN_OR_RETURN(parent, OpenParent(file, file_size, dyn, options, &parent_path));
  }
  return std::unique_ptr<ImageReader>(new VhdReader(std::move(file), file_size, *footer,
                                                    std::move(dyn), std::move(bat),
                                                    std::move(parent), parent_path));
}

}  // namespace ferry::image
