// VHD writers. Fixed: the disk's bytes, then the footer. Dynamic: footer
// copy, dynamic header, BAT, then blocks (sector bitmap + data) in arrival
// order from any thread, then the footer. The creator application is "qem2",
// which qemu and Hyper-V both read as "the size is current_size" (not the
// CHS geometry, which cannot express most sizes exactly).
#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>

#include "base/endian.h"
#include "image/file.h"
#include "image/vhd.h"
#include "image/vhd_format.h"
#include "image/writer_state.h"

namespace ferry::image {
namespace {

using namespace vhd;

Footer MakeFooter(uint64_t size, uint32_t type) {
  Footer f;
  f.disk_type = type;
  f.original_size = f.current_size = size;
  Geometry(size, &f.cylinders, &f.heads, &f.sectors_per_track);
  f.timestamp = uint32_t(std::time(nullptr) - 946684800);  // seconds since 2000-01-01
  std::random_device rd;
  for (int i = 0; i < 16; i += 4) StoreBE32(f.uuid + i, rd());
  f.data_offset = type == kTypeDynamic ? kFooterSize : ~uint64_t(0);
  return f;
}

// A checkpoint's writer state starts with the kind of writer and the
// footer's creation time and UUID, so that a resumed image is the one the
// first run began; a dynamic writer adds its allocation (next free byte,
// then index and sector of every allocated BAT entry).
constexpr uint32_t kStateFixed = 1;
constexpr uint32_t kStateDynamic = 2;

Error BadState(const char* what) {
  return Error(ErrorCode::kCorrupt, std::string("vhd checkpoint state: ") + what);
}

void PackIdentity(StatePacker& out, uint32_t kind, const Footer& f) {
  out.Put(kind, 4);
  out.Put(f.timestamp, 4);
  out.PutBytes(f.uuid);
}

Status UnpackIdentity(StateUnpacker& in, uint32_t kind, Footer& f) {
  if (in.Get(4) != kind) return BadState("written by another subformat");
  f.timestamp = uint32_t(in.Get(4));
  in.GetBytes(f.uuid);
  if (in.short_input()) return BadState("truncated");
  return OkStatus();
}

class FixedWriter : public ImageWriter {
 public:
  FixedWriter(ImageFile file, Footer footer, uint64_t size)
      : file_(std::move(file)), footer_(footer), size_(size) {}
  uint64_t granularity() const override { return kSector; }
  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    return file_.WriteAt(offset, data);
  }
  Status WriteZeroes(uint64_t offset, uint64_t length) override {
    return file_.ZeroRange(offset, length);
  }
  Status Finish() override {
    uint8_t buf[kFooterSize];
    EncodeFooter(footer_, buf);
    RETURN_IF_ERROR(file_.WriteAt(size_, buf));
    return file_.Sync();
  }
  // The file is the disk; only the footer's identity needs keeping.
  Result<std::optional<std::vector<uint8_t>>> SaveState() override {
    StatePacker out;
    PackIdentity(out, kStateFixed, footer_);
    return std::optional<std::vector<uint8_t>>(out.Take());
  }
  Status LoadState(std::span<const uint8_t> state) {
    StateUnpacker in(state);
    RETURN_IF_ERROR(UnpackIdentity(in, kStateFixed, footer_));
    if (!in.complete()) return BadState("trailing bytes");
    ASSIGN_OR_RETURN(uint64_t have, file_.Size());
    // A footer already written would mean Finish ran: not a partial output.
    if (have != size_) return BadState("the file is not the size the first run made");
    return OkStatus();
  }
  Status Flush() override { return file_.Sync(); }

 private:
  ImageFile file_;
  Footer footer_;
  uint64_t size_;
};

class DynamicWriter : public ImageWriter {
 public:
  DynamicWriter(ImageFile file, Footer footer, uint64_t size)
      : file_(std::move(file)), footer_(footer) {
    dyn_.max_table_entries = uint32_t((size + dyn_.block_size - 1) / dyn_.block_size);
    dyn_.table_offset = kFooterSize + kDynHeaderSize;
    bat_.assign(dyn_.max_table_entries, kUnallocated);
    uint64_t bat_bytes = (uint64_t(dyn_.max_table_entries) * 4 + kSector - 1) / kSector * kSector;
    next_ = dyn_.table_offset + bat_bytes;
    bitmap_.assign((dyn_.block_size / kSector / 8 + kSector - 1) / kSector * kSector, 0);
    // Every sector of a block we write holds its data: all bits set.
    std::memset(bitmap_.data(), 0xff, dyn_.block_size / kSector / 8);
  }

  uint64_t granularity() const override { return dyn_.block_size; }

  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    const uint64_t bs = dyn_.block_size;
    for (uint64_t pos = 0; pos < data.size(); pos += bs) {
      uint64_t n = std::min<uint64_t>(bs, data.size() - pos);
      uint64_t host;
      {
        std::lock_guard lock(mu_);
        host = next_;
        next_ += bitmap_.size() + bs;
        bat_[(offset + pos) / bs] = uint32_t(host / kSector);
      }
      RETURN_IF_ERROR(file_.WriteAt(host, bitmap_));
      RETURN_IF_ERROR(file_.WriteAt(host + bitmap_.size(), data.subspan(pos, n)));
    }
    return OkStatus();
  }

  Status WriteZeroes(uint64_t, uint64_t) override { return OkStatus(); }  // unallocated reads zero

  Status Finish() override {
    uint8_t footer[kFooterSize];
    EncodeFooter(footer_, footer);
    uint8_t header[kDynHeaderSize];
    EncodeDynamicHeader(dyn_, header);
    std::vector<uint8_t> bat((uint64_t(bat_.size()) * 4 + kSector - 1) / kSector * kSector, 0xff);
    for (size_t i = 0; i < bat_.size(); ++i) StoreBE32(&bat[i * 4], bat_[i]);
    RETURN_IF_ERROR(file_.WriteAt(0, footer));
    RETURN_IF_ERROR(file_.WriteAt(kFooterSize, header));
    RETURN_IF_ERROR(file_.WriteAt(dyn_.table_offset, bat));
    RETURN_IF_ERROR(file_.WriteAt(next_, footer));
    RETURN_IF_ERROR(file_.Truncate(next_ + kFooterSize));
    return file_.Sync();
  }

  // Blocks are in the file; the BAT and next_ say where. Finish writes all
  // the metadata, so a resumed writer just goes on allocating at next_.
  Result<std::optional<std::vector<uint8_t>>> SaveState() override {
    std::lock_guard lock(mu_);
    StatePacker out;
    PackIdentity(out, kStateDynamic, footer_);
    out.Put(next_, 8);
    uint64_t used =
        std::count_if(bat_.begin(), bat_.end(), [](uint32_t e) { return e != kUnallocated; });
    out.Put(used, 4);
    for (size_t i = 0; i < bat_.size(); ++i) {
      if (bat_[i] == kUnallocated) continue;
      out.Put(i, 4);
      out.Put(bat_[i], 4);
    }
    return std::optional<std::vector<uint8_t>>(out.Take());
  }

  // The inverse of SaveState, checked as hostile input: each entry must name
  // a distinct whole block (bitmap + data) between the BAT and next_.
  Status LoadState(std::span<const uint8_t> state) {
    StateUnpacker in(state);
    RETURN_IF_ERROR(UnpackIdentity(in, kStateDynamic, footer_));
    const uint64_t first = next_;
    const uint64_t stride = bitmap_.size() + dyn_.block_size;
    next_ = in.Get(8);
    const uint64_t used = in.Get(4);
    if (in.short_input() || next_ < first || (next_ - first) % stride ||
        (next_ - first) / stride > bat_.size() || used != (next_ - first) / stride) {
      return BadState("allocation does not fit the image");
    }
    std::vector<bool> taken((next_ - first) / stride);
    for (uint64_t n = 0; n < used; ++n) {
      const uint64_t index = in.Get(4);
      const uint64_t host = in.Get(4) * kSector;
      if (in.short_input() || index >= bat_.size() || bat_[index] != kUnallocated || host < first ||
          (host - first) % stride || host + stride > next_ || taken[(host - first) / stride]) {
        return BadState("block out of range");
      }
      taken[(host - first) / stride] = true;
      bat_[index] = uint32_t(host / kSector);
    }
    if (!in.complete()) return BadState("trailing bytes");
    return OkStatus();
  }
  Status Flush() override { return file_.Sync(); }

 private:
  ImageFile file_;
  Footer footer_;
  DynamicHeader dyn_;
  std::mutex mu_;
  uint64_t next_;
  std::vector<uint32_t> bat_;
  std::vector<uint8_t> bitmap_;
};

// Checks the options; returns the subformat ("dynamic" or "fixed").
Result<std::string> SubformatFor(uint64_t size, const CreateOptions& o) {
  if (size % kSector)
    return Error(ErrorCode::kInvalidArgument, "vhd sizes must be a multiple of 512");
  if (size > kMaxSize)
    return Error(ErrorCode::kInvalidArgument, "vhd images hold at most 2040 GiB");
  std::string sub = o.subformat.empty() ? "dynamic" : o.subformat;
  if (sub != "dynamic" && sub != "fixed") {
    return Error(ErrorCode::kInvalidArgument, "vhd subformat must be dynamic or fixed");
  }
  if (o.cluster_size) return Error(ErrorCode::kInvalidArgument, "vhd blocks are 2 MiB here");
  return sub;
}

}  // namespace

Result<std::unique_ptr<ImageWriter>> CreateVhd(const std::string& path, uint64_t size,
                                               const CreateOptions& o) {
  ASSIGN_OR_RETURN(std::string sub, SubformatFor(size, o));
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(path));
  if (!o.flush) file.DisableSync();
  if (sub == "fixed") {
    RETURN_IF_ERROR(file.Truncate(size));
    return std::unique_ptr<ImageWriter>(
        new FixedWriter(std::move(file), MakeFooter(size, kTypeFixed), size));
  }
  return std::unique_ptr<ImageWriter>(
      new DynamicWriter(std::move(file), MakeFooter(size, kTypeDynamic), size));
}

Result<std::unique_ptr<ImageWriter>> ResumeVhd(const std::string& path, uint64_t size,
                                               const CreateOptions& o,
                                               std::span<const uint8_t> state) {
  ASSIGN_OR_RETURN(std::string sub, SubformatFor(size, o));
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
  if (!o.flush) file.DisableSync();
  if (sub == "fixed") {
    auto w = std::make_unique<FixedWriter>(std::move(file), MakeFooter(size, kTypeFixed), size);
    RETURN_IF_ERROR(w->LoadState(state));
    return std::unique_ptr<ImageWriter>(std::move(w));
  }
  auto w = std::make_unique<DynamicWriter>(std::move(file), MakeFooter(size, kTypeDynamic), size);
  RETURN_IF_ERROR(w->LoadState(state));
  return std::unique_ptr<ImageWriter>(std::move(w));
}

}  // namespace ferry::image
