#include "image/tar_writer.h"

#include <cstring>
#include <ctime>
#include <vector>

namespace ferry::image {
namespace {

constexpr uint64_t kBlock = 512;
constexpr uint64_t kMaxOctalSize = (uint64_t(1) << 33) - 1;  // 11 octal digits
constexpr size_t kCopyChunk = 1 << 20;

// `value` as zero-padded octal in `width - 1` digits and a NUL (the caller
// checks that it fits).
void Octal(uint8_t* field, size_t width, uint64_t value) {
  field[width - 1] = 0;
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = uint8_t('0' + (value & 7));
    value >>= 3;
  }
}

// GNU's base-256: the high bit of the first byte set, the number big-endian.
void Base256(uint8_t* field, size_t width, uint64_t value) {
  for (size_t i = width; i-- > 1;) {
    field[i] = uint8_t(value);
    value >>= 8;
  }
  field[0] = 0x80;
}

}  // namespace

Result<std::array<uint8_t, 512>> TarHeader(const std::string& name, uint64_t size, int64_t mtime) {
  if (name.empty() || name.size() > 100 || name.find('/') != std::string::npos || name == "." ||
      name == ".." || name.find('\0') != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "tar member name '" + name + "' is not a plain file name of at most 100 bytes");
  }
  std::array<uint8_t, 512> h{};
  std::memcpy(h.data(), name.data(), name.size());
  Octal(h.data() + 100, 8, 0644);  // mode
  Octal(h.data() + 108, 8, 0);     // uid
  Octal(h.data() + 116, 8, 0);     // gid
  if (size <= kMaxOctalSize) {
    Octal(h.data() + 124, 12, size);
  } else {
    Base256(h.data() + 124, 12, size);
  }
  Octal(h.data() + 136, 12, uint64_t(mtime < 0 ? 0 : mtime) & kMaxOctalSize);
  h[156] = '0';                             // regular file
  std::memcpy(h.data() + 257, "ustar", 6);  // magic with its NUL
  std::memcpy(h.data() + 263, "00", 2);     // version
  std::memcpy(h.data() + 265, "root", 4);   // uname
  std::memcpy(h.data() + 297, "root", 4);   // gname
  // The checksum is summed with its own field read as spaces.
  std::memset(h.data() + 148, ' ', 8);
  uint64_t sum = 0;
  for (uint8_t b : h) sum += b;
  Octal(h.data() + 148, 7, sum);  // six digits, NUL, then a space
  h[155] = ' ';
  return h;
}

Result<TarWriter> TarWriter::Create(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(path));
  TarWriter w(std::move(file));
  w.mtime_ = static_cast<int64_t>(std::time(nullptr));
  return w;
}

Status TarWriter::Header(const std::string& name, uint64_t size) {
  ASSIGN_OR_RETURN(auto header, TarHeader(name, size, mtime_));
  RETURN_IF_ERROR(file_.WriteAt(at_, header));
  at_ += kBlock;
  return OkStatus();
}

// Zeros up to the next block boundary after a member of `size` bytes.
Status TarWriter::Pad(uint64_t size) {
  const uint64_t rest = (kBlock - size % kBlock) % kBlock;
  if (rest == 0) return OkStatus();
  const uint8_t zeros[kBlock] = {};
  RETURN_IF_ERROR(file_.WriteAt(at_, std::span<const uint8_t>(zeros, rest)));
  at_ += rest;
  return OkStatus();
}

Status TarWriter::Add(const std::string& name, std::span<const uint8_t> data) {
  RETURN_IF_ERROR(Header(name, data.size()));
  RETURN_IF_ERROR(file_.WriteAt(at_, data));
  at_ += data.size();
  return Pad(data.size());
}

Status TarWriter::Add(const std::string& name, const std::string& text) {
  return Add(name,
             std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Status TarWriter::AddFile(const std::string& name, const std::string& path,
                          const std::function<void(std::span<const uint8_t>)>& tap) {
  ASSIGN_OR_RETURN(ImageFile src, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t size, src.Size());
  RETURN_IF_ERROR(Header(name, size));
  std::vector<uint8_t> buf(kCopyChunk);
  for (uint64_t done = 0; done < size;) {
    const size_t n = size_t(std::min<uint64_t>(buf.size(), size - done));
    std::span<uint8_t> chunk(buf.data(), n);
    RETURN_IF_ERROR(src.ReadAt(done, chunk, "tar member"));
    if (tap) tap(chunk);
    RETURN_IF_ERROR(file_.WriteAt(at_, chunk));
    at_ += n;
    done += n;
  }
  return Pad(size);
}

Status TarWriter::Finish() {
  const uint8_t zeros[2 * kBlock] = {};
  RETURN_IF_ERROR(file_.WriteAt(at_, zeros));
  at_ += sizeof zeros;
  return file_.Sync();
}

}  // namespace ferry::image
