#include "image/ova.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace ferry::image {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

Status Compare(const ManifestEntry& want, const std::string& got, const std::string& name) {
  if (got == want.hex) return OkStatus();
  const char* algo = want.kind == DigestKind::kSha1 ? "SHA1" : "SHA256";
  return Error(ErrorCode::kCorrupt, "OVA manifest: " + std::string(algo) + " digest of " + name +
                                        " does not match (manifest " + want.hex + ", file " + got +
                                        ")");
}

// Streams [offset, offset + size) of `file` through `digest`, and through
// `sink` when given.
Status Stream(const ImageFile& file, uint64_t offset, uint64_t size, Digest* digest,
              const ImageFile* sink) {
  std::vector<uint8_t> buf(4 << 20);
  for (uint64_t done = 0; done < size;) {
    std::span<uint8_t> chunk(buf.data(), std::min<uint64_t>(buf.size(), size - done));
    RETURN_IF_ERROR(file.ReadAt(offset + done, chunk, "OVA member"));
    if (digest) digest->Update(chunk);
    if (sink) RETURN_IF_ERROR(sink->WriteAt(done, chunk));
    done += chunk.size();
  }
  return OkStatus();
}

}  // namespace

Result<Manifest> ParseManifest(const std::string& text) {
  Manifest m;
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    std::string line = Trim(text.substr(at, nl == std::string::npos ? nl : nl - at));
    at = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::kCorrupt,
                   "OVA manifest line " + std::to_string(line_no) + ": " + why);
    };
    size_t open = line.find('(');
    size_t close = line.rfind(")=");
    if (open == std::string::npos || close == std::string::npos || close < open) {
      return bad("not ALGO(file)= digest");
    }
    std::string algo = line.substr(0, open);
    ManifestEntry e;
    size_t hex_len;
    if (algo == "SHA1") {
      e.kind = DigestKind::kSha1;
      hex_len = 40;
    } else if (algo == "SHA256") {
      e.kind = DigestKind::kSha256;
      hex_len = 64;
    } else {
      return bad("digest algorithm '" + algo + "' is not supported (SHA1, SHA256)");
    }
    std::string name = line.substr(open + 1, close - open - 1);
    for (char c : Trim(line.substr(close + 2))) {
      e.hex += char(std::tolower(static_cast<unsigned char>(c)));
    }
    if (e.hex.size() != hex_len ||
        e.hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return bad("the digest of " + name + " is not " + std::to_string(hex_len) + " hex digits");
    }
    if (!m.emplace(name, e).second) return bad(name + " is listed twice");
  }
  return m;
}

Result<std::string> ReadMember(const ImageFile& file, uint64_t offset, uint64_t size, uint64_t max,
                               const std::string& name) {
  if (size > max) {
    return Error(ErrorCode::kCorrupt, name + " is larger than " + std::to_string(max) + " bytes");
  }
  std::string out(size, '\0');
  RETURN_IF_ERROR(
      file.ReadAt(offset, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size()),
                  "OVA member"));
  return out;
}

Status VerifyBytes(const Manifest& manifest, const std::string& name, const std::string& data) {
  auto it = manifest.find(name);
  if (it == manifest.end()) return OkStatus();
  ASSIGN_OR_RETURN(Digest d, Digest::Start(it->second.kind));
  d.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  return Compare(it->second, d.FinishHex(), name);
}

Status CopyVerified(const ImageFile& file, uint64_t offset, uint64_t size,
                    const std::string& out_path, const Manifest& manifest,
                    const std::string& name) {
  auto it = manifest.find(name);
  std::optional<Digest> digest;
  if (it != manifest.end()) {
    ASSIGN_OR_RETURN(digest, Digest::Start(it->second.kind));
  }
  ASSIGN_OR_RETURN(ImageFile out, ImageFile::Create(out_path));
  Status copied = Stream(file, offset, size, digest ? &*digest : nullptr, &out);
  if (copied.ok() && digest) copied = Compare(it->second, digest->FinishHex(), name);
  if (!copied.ok()) ::unlink(out_path.c_str());
  return copied;
}

Status VerifyFile(const std::string& path, const Manifest& manifest, const std::string& name) {
  auto it = manifest.find(name);
  if (it == manifest.end()) return OkStatus();
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  ASSIGN_OR_RETURN(Digest d, Digest::Start(it->second.kind));
  RETURN_IF_ERROR(Stream(file, 0, size, &d, nullptr));
  return Compare(it->second, d.FinishHex(), name);
}

}  // namespace ferry::image
