#include "image/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "base/crc32c.h"
#include "base/endian.h"
#include "base/fd.h"
#include "image/file.h"

namespace ferry::image {
namespace {

// "FERRYCKP", version, CRC32C of everything after it, then the fields.
constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'C', 'K', 'P'};
constexpr uint32_t kVersion = 1;
constexpr size_t kPrefix = 16;
constexpr uint64_t kMaxSize = uint64_t(1) << 32;

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "checkpoint: " + what);
}

}  // namespace

std::string CheckpointPathFor(const std::string& temp_path) {
  return temp_path + ".ckpt";
}

Status SaveCheckpoint(const std::string& path, const Checkpoint& c) {
  std::vector<uint8_t> out(kPrefix + 8 + 8 + 4 + 4 + c.identity.size() + 8 + c.writer_state.size());
  std::memcpy(out.data(), kMagic, 8);
  StoreLE32(&out[8], kVersion);
  uint8_t* p = &out[kPrefix];
  StoreLE64(p, c.frontier);
  StoreLE64(p + 8, c.plan_tasks);
  StoreLE32(p + 16, c.plan_digest);
  StoreLE32(p + 20, uint32_t(c.identity.size()));
  std::memcpy(p + 24, c.identity.data(), c.identity.size());
  p += 24 + c.identity.size();
  StoreLE64(p, c.writer_state.size());
  if (!c.writer_state.empty()) std::memcpy(p + 8, c.writer_state.data(), c.writer_state.size());
  StoreLE32(&out[12], Crc32c(std::span<const uint8_t>(out).subspan(kPrefix)));

  std::string temp = path + ".new";
  ::unlink(temp.c_str());
  {
    ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(temp));
    RETURN_IF_ERROR(file.WriteAt(0, out));
    RETURN_IF_ERROR(file.Sync());
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("rename " + temp);
  return OkStatus();
}

Result<Checkpoint> ParseCheckpoint(std::span<const uint8_t> in) {
  if (in.size() < kPrefix + 24 + 8) return Bad("truncated");
  if (std::memcmp(in.data(), kMagic, 8) != 0) return Bad("not a ferry checkpoint");
  if (LoadLE32(&in[8]) != kVersion) return Bad("unknown version");
  if (LoadLE32(&in[12]) != Crc32c(in.subspan(kPrefix))) return Bad("checksum mismatch");
  Checkpoint c;
  const uint8_t* p = &in[kPrefix];
  c.frontier = LoadLE64(p);
  c.plan_tasks = LoadLE64(p + 8);
  c.plan_digest = LoadLE32(p + 16);
  uint32_t id_len = LoadLE32(p + 20);
  size_t at = kPrefix + 24;
  if (id_len > in.size() - at - 8) return Bad("identity truncated");
  c.identity.assign(reinterpret_cast<const char*>(&in[at]), id_len);
  at += id_len;
  uint64_t state_len = LoadLE64(&in[at]);
  at += 8;
  if (state_len != in.size() - at) return Bad("writer state truncated");
  c.writer_state.assign(in.begin() + at, in.end());
  if (c.frontier > c.plan_tasks) return Bad("frontier past the end of the plan");
  return c;
}

Result<Checkpoint> LoadCheckpoint(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  if (size > kMaxSize) return Bad(path + " is too large");
  std::vector<uint8_t> bytes(size);
  RETURN_IF_ERROR(file.ReadAt(0, bytes, "checkpoint"));
  Result<Checkpoint> c = ParseCheckpoint(bytes);
  if (!c.ok()) return std::move(c).error().WithContext(path);
  return c;
}

}  // namespace ferry::image
