#include "image/raw.h"

#include <unistd.h>

#include <cerrno>

namespace ferry::image {
namespace {

class RawReader : public ImageReader {
 public:
  RawReader(ImageFile file, uint64_t size) : file_(std::move(file)), size_(size) {}

  uint64_t virtual_size() const override { return size_; }

  Result<ImageDetails> Details() const override {
    ImageDetails d;
    d.path = file_.path();
    d.format = Format::kRaw;
    d.virtual_size = size_;
    ASSIGN_OR_RETURN(d.disk_size, file_.AllocatedBytes());
    return d;
  }

  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    return file_.ReadAt(offset, out, "raw data");
  }

  Result<Extent> Map(uint64_t offset, uint64_t max_length) override {
    uint64_t end = std::min(size_, offset + max_length);
    Extent e;
    e.start = offset;
    e.length = end - offset;
    e.data = e.present = true;
    e.host_offset = offset;
    if (file_.is_block_device()) return e;
    off_t data = ::lseek(file_.fd(), off_t(offset), SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) return e;  // SEEK_DATA unsupported: everything is data
      data = off_t(end);             // no data after offset
    }
    if (uint64_t(data) > offset) {
      e.data = false;
      e.zero = true;
      e.length = std::min<uint64_t>(uint64_t(data), end) - offset;
      return e;
    }
    off_t hole = ::lseek(file_.fd(), off_t(offset), SEEK_HOLE);
    if (hole >= 0 && uint64_t(hole) > offset)
      e.length = std::min<uint64_t>(uint64_t(hole), end) - offset;
    return e;
  }

 private:
  ImageFile file_;
  uint64_t size_;
};

class RawWriter : public ImageWriter {
 public:
  RawWriter(ImageFile file, bool zeroed) : file_(std::move(file)), zeroed_(zeroed) {}

  uint64_t granularity() const override { return 512; }
  bool starts_zeroed() const override { return zeroed_; }
  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    return file_.WriteAt(offset, data);
  }
  Status WriteZeroes(uint64_t offset, uint64_t length) override {
    return file_.ZeroRange(offset, length);
  }
  Status Finish() override { return file_.Sync(); }
  // The file itself is the whole state.
  Result<std::optional<std::vector<uint8_t>>> SaveState() override {
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>());
  }
  Status Flush() override { return file_.Sync(); }

 private:
  ImageFile file_;
  bool zeroed_;
};

}  // namespace

Result<std::unique_ptr<ImageReader>> OpenRaw(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  return std::unique_ptr<ImageReader>(new RawReader(std::move(file), size));
}

Result<std::unique_ptr<ImageWriter>> CreateRaw(const std::string& path, uint64_t size,
                                               const CreateOptions& o) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(path));
  if (!o.flush) file.DisableSync();
  RETURN_IF_ERROR(file.Truncate(size));
  return std::unique_ptr<ImageWriter>(new RawWriter(std::move(file), true));
}

Result<std::unique_ptr<ImageWriter>> ResumeRaw(const std::string& path, uint64_t size,
                                               const CreateOptions& o) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
  if (!o.flush) file.DisableSync();
  ASSIGN_OR_RETURN(uint64_t have, file.Size());
  if (have != size) {
    return Error(ErrorCode::kCorrupt, path + " is not the size the interrupted convert made");
  }
  // CreateRaw made it sparse, and only the copy wrote to it since.
  return std::unique_ptr<ImageWriter>(new RawWriter(std::move(file), true));
}

Result<std::unique_ptr<ImageWriter>> OpenRawTarget(const std::string& path, uint64_t size,
                                                   bool target_is_zero) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
  ASSIGN_OR_RETURN(uint64_t have, file.Size());
  if (have < size) {
    if (file.is_block_device()) {
      return Error(ErrorCode::kInvalidArgument, path + " holds " + std::to_string(have) +
                                                    " bytes, the image needs " +
                                                    std::to_string(size));
    }
    RETURN_IF_ERROR(file.Truncate(size));
  }
  return std::unique_ptr<ImageWriter>(new RawWriter(std::move(file), target_is_zero));
}

}  // namespace ferry::image
