#include "migration/partial_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/crc32c.h"
#include "base/fd.h"

namespace ferry::migration {
namespace {

constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'D', 'C', 'P'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 16 + 8;
constexpr uint64_t kMaxWords = 1ull << 24;  // 2^30 chunks: far beyond any disk we copy

template <typename T>
void Append(std::vector<uint8_t>& out, const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof value);
}

template <typename T>
T Take(const uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

Result<std::vector<uint8_t>> ReadAll(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open " + path);
  std::vector<uint8_t> bytes;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read " + path);
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
    if (bytes.size() > kHeaderSize + kMaxWords * 8 + 4) {
      return Error(ErrorCode::kCorrupt, path + " is too large");
    }
  }
  return bytes;
}

}  // namespace

std::string PartialCopyPath(const std::string& image) {
  return image + ".ferry-partial";
}

std::optional<PartialCopy> LoadPartialCopy(const std::string& image) {
  Result<std::vector<uint8_t>> read = ReadAll(PartialCopyPath(image));
  if (!read.ok()) return std::nullopt;
  const std::vector<uint8_t>& b = read.value();
  if (b.size() < kHeaderSize + 4 || std::memcmp(b.data(), kMagic, 8) != 0) return std::nullopt;
  if (Take<uint32_t>(b.data() + b.size() - 4) != Crc32c({b.data(), b.size() - 4})) {
    return std::nullopt;
  }
  PartialCopy copy;
  if (Take<uint32_t>(b.data() + 8) != kVersion) return std::nullopt;
  copy.chunk_bytes = Take<uint32_t>(b.data() + 12);
  copy.size_bytes = Take<uint64_t>(b.data() + 16);
  std::memcpy(copy.session.data(), b.data() + 24, 16);
  uint64_t words = Take<uint64_t>(b.data() + 40);
  if (copy.chunk_bytes == 0 || words > kMaxWords || b.size() != kHeaderSize + words * 8 + 4 ||
      words != ((copy.size_bytes + copy.chunk_bytes - 1) / copy.chunk_bytes + 63) / 64) {
    return std::nullopt;
  }
  copy.present.resize(words);
  if (words != 0) std::memcpy(copy.present.data(), b.data() + kHeaderSize, words * 8);
  return copy;
}

Status SavePartialCopy(const std::string& image, const PartialCopy& copy) {
  std::vector<uint8_t> out(kMagic, kMagic + 8);
  Append(out, kVersion);
  Append(out, copy.chunk_bytes);
  Append(out, copy.size_bytes);
  out.insert(out.end(), copy.session.begin(), copy.session.end());
  Append(out, static_cast<uint64_t>(copy.present.size()));
  for (uint64_t w : copy.present) Append(out, w);
  Append(out, Crc32c(out));

  std::string path = PartialCopyPath(image);
  std::string temp = path + ".tmp";
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("create " + temp);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write " + temp);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return ErrnoError("fsync " + temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("rename " + temp);
  return OkStatus();
}

Status RemovePartialCopy(const std::string& image) {
  std::string path = PartialCopyPath(image);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove " + path);
  return OkStatus();
}

}  // namespace ferry::migration
