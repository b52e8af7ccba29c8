#include <algorithm>
#include <cstring>

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
            std::vector<uint32_t> bat)
      : file_(std::move(file)),
        file_size_(file_size),
        footer_(footer),
        dyn_(dyn),
        bat_(std::move(bat)),
        size_(footer.VirtualSize()),
        bitmap_bytes_((dyn.block_size / kSector / 8 + kSector - 1) / kSector * kSector) {}

  uint64_t virtual_size() const override { return size_; }

  Result<ImageDetails> Details() const override {
    ImageDetails d;
    d.path = file_.path();
    d.format = Format::kVhd;
    d.virtual_size = size_;
    ASSIGN_OR_RETURN(d.disk_size, file_.AllocatedBytes());
    bool dynamic = footer_.disk_type == kTypeDynamic;
    if (dynamic) d.cluster_size = dyn_.block_size;
    d.specific = {{"subformat", dynamic ? "dynamic" : "fixed"},
                  {"creator", std::string(footer_.creator_app, 4)}};
    return d;
  }

  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    return ReadByExtents(*this, file_, offset, out, "vhd block");
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
};

}  // namespace

Result<std::unique_ptr<ImageReader>> OpenVhd(const std::string& path) {
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
  return std::unique_ptr<ImageReader>(
      new VhdReader(std::move(file), file_size, *footer, dyn, std::move(bat)));
}

}  // namespace ferry::image
