#include "image/tar.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace ferry::image {
namespace {

constexpr uint64_t kBlock = 512;
constexpr size_t kMaxMembers = 4096;
constexpr uint64_t kMaxNameRecord = 64 << 10;

Error Bad(const ImageFile& f, const std::string& what) {
  return Error(ErrorCode::kCorrupt, f.path() + ": not a valid tar archive: " + what);
}

// A numeric header field: octal digits (space/NUL padded) or, with the high
// bit of the first byte set, a big-endian base-256 number.
Result<uint64_t> Number(const uint8_t* p, size_t n) {
  if (p[0] & 0x80) {
    uint64_t v = p[0] & 0x7f;
    for (size_t i = 1; i < n; ++i) {
      if (v >> 55) return Error(ErrorCode::kCorrupt, "number too large");
      v = v << 8 | p[i];
    }
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && p[i] == ' ') ++i;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) return Error(ErrorCode::kCorrupt, "number too large");
    v = v * 8 + (p[i] - '0');
  }
  for (; i < n; ++i) {
    if (p[i] != ' ' && p[i] != 0) return Error(ErrorCode::kCorrupt, "bad number field");
  }
  return v;
}

bool ChecksumOk(const uint8_t* h) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
  Result<uint64_t> stored = Number(h + 148, 8);
  return stored.ok() && *stored == sum;
}

std::string Field(const uint8_t* p, size_t n) {
  size_t len = 0;
  while (len < n && p[len]) ++len;
  return std::string(reinterpret_cast<const char*>(p), len);
}

// Accepts plain file names (optionally "./name"); OVA members are flat.
Result<std::string> CleanName(std::string name) {
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." ||
      name.find('\0') != std::string::npos) {
    return Error(ErrorCode::kCorrupt, "member name '" + name + "' is not a plain file name");
  }
  return name;
}

// The "path" record of a pax extended header, if any.
std::string PaxPath(const std::string& records) {
  size_t at = 0;
  std::string path;
  while (at < records.size()) {
    size_t space = records.find(' ', at);
    if (space == std::string::npos) break;
    uint64_t len = 0;
    for (size_t i = at; i < space; ++i) {
      if (records[i] < '0' || records[i] > '9' || len > records.size()) return path;
      len = len * 10 + uint64_t(records[i] - '0');
    }
    if (len <= space - at || at + len > records.size()) break;
    std::string record = records.substr(space + 1, at + len - space - 2);  // no '\n'
    if (record.rfind("path=", 0) == 0) path = record.substr(5);
    at += len;
  }
  return path;
}

}  // namespace

Result<std::vector<TarMember>> ListTar(const ImageFile& archive) {
  ASSIGN_OR_RETURN(uint64_t file_size, archive.Size());
  std::vector<TarMember> members;
  std::set<std::string> names;
  std::string long_name;
  uint8_t h[kBlock];
  for (uint64_t at = 0;;) {
    if (at + kBlock > file_size) return Bad(archive, "ends without the end-of-archive blocks");
    RETURN_IF_ERROR(archive.ReadAt(at, h, "tar header"));
    if (std::all_of(h, h + kBlock, [](uint8_t b) { return b == 0; })) break;
    if (!ChecksumOk(h))
      return Bad(archive, "header checksum mismatch at offset " + std::to_string(at));
    Result<uint64_t> size = Number(h + 124, 12);
    if (!size.ok()) return Bad(archive, size.error().message());
    const uint64_t data = at + kBlock;
    if (*size > file_size - data) return Bad(archive, "a member runs past the end of the file");
    const char type = char(h[156]);
    if (type == 'L' || type == 'x') {
      if (*size > kMaxNameRecord) return Bad(archive, "extended header too large");
      std::string record(*size, '\0');
      RETURN_IF_ERROR(archive.ReadAt(
          data, std::span<uint8_t>(reinterpret_cast<uint8_t*>(record.data()), record.size()),
          "tar extended header"));
      long_name = type == 'L'
                      ? Field(reinterpret_cast<const uint8_t*>(record.data()), record.size())
                      : PaxPath(record);
    } else if (type == '0' || type == '\0' || type == '7') {
      std::string name = long_name;
      if (name.empty()) {
        name = Field(h, 100);
        if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345])
          name = Field(h + 345, 155) + "/" + name;
      }
      long_name.clear();
      Result<std::string> clean = CleanName(name);
      if (!clean.ok()) return Bad(archive, clean.error().message());
      if (!names.insert(*clean).second)
        return Bad(archive, "member '" + *clean + "' appears twice");
      if (members.size() >= kMaxMembers) return Bad(archive, "too many members");
      members.push_back({*clean, data, *size});
    } else {
      long_name.clear();  // directories, links, devices: not part of an OVA
    }
    at = data + (*size + kBlock - 1) / kBlock * kBlock;
  }
  return members;
}

}  // namespace ferry::image
