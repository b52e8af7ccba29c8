#include "image/ova.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <vector>

#include "image/text_util.h"

namespace ferry::image {
namespace {

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

namespace {

constexpr uint64_t kBombFactor = 100;
constexpr uint64_t kBombAllowance = uint64_t(1) << 30;

// Inflates gzip members as bytes arrive and appends what comes out to `out`.
class GzipSink {
 public:
  GzipSink(const ImageFile& out, uint64_t limit) : out_(out), limit_(limit) {}
  ~GzipSink() {
    if (started_) inflateEnd(&z_);
  }
  GzipSink(const GzipSink&) = delete;
  GzipSink& operator=(const GzipSink&) = delete;

  Status Feed(std::span<const uint8_t> in, const std::string& name) {
    if (!started_) {
      if (inflateInit2(&z_, 15 + 16) != Z_OK) return Error(ErrorCode::kInternal, "inflateInit2");
      started_ = true;
      in_stream_ = true;
    }
    z_.next_in = const_cast<Bytef*>(in.data());
    z_.avail_in = uInt(in.size());
    while (z_.avail_in > 0) {
      if (!in_stream_) {  // another gzip member follows the last one
        inflateReset(&z_);
        in_stream_ = true;
      }
      z_.next_out = buf_.data();
      z_.avail_out = uInt(buf_.size());
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        return Error(ErrorCode::kCorrupt,
                     name + ": not a valid gzip stream (" + (z_.msg ? z_.msg : "inflate") + ")");
      }
      const size_t produced = buf_.size() - z_.avail_out;
      if (written_ + produced > limit_) {
        return Error(ErrorCode::kCorrupt, name + " inflates to more than " +
                                              std::to_string(limit_) +
                                              " bytes; refused as a compression bomb");
      }
      RETURN_IF_ERROR(out_.WriteAt(written_, std::span<const uint8_t>(buf_.data(), produced)));
      written_ += produced;
      if (rc == Z_STREAM_END) in_stream_ = false;
      if (rc == Z_BUF_ERROR && produced == 0) break;
    }
    return OkStatus();
  }

  Status Finish(const std::string& name) const {
    if (!started_ || in_stream_) {
      return Error(ErrorCode::kCorrupt, name + " ends before its gzip stream does (truncated?)");
    }
    return OkStatus();
  }

 private:
  const ImageFile& out_;
  uint64_t limit_;
  z_stream z_{};
  bool started_ = false;
  bool in_stream_ = false;
  uint64_t written_ = 0;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(1 << 20);
};

Status ExtractPieces(std::span<const PackagePiece> pieces, bool gzip, const ImageFile& out,
                     const Manifest& manifest) {
  uint64_t total = 0;
  for (const PackagePiece& p : pieces) total += p.size;
  GzipSink inflater(out, total * kBombFactor + kBombAllowance);
  std::vector<uint8_t> buf(4 << 20);
  uint64_t written = 0;
  for (const PackagePiece& p : pieces) {
    auto it = manifest.find(p.name);
    std::optional<Digest> digest;
    if (it != manifest.end()) {
      ASSIGN_OR_RETURN(digest, Digest::Start(it->second.kind));
    }
    for (uint64_t done = 0; done < p.size;) {
      std::span<uint8_t> chunk(buf.data(), std::min<uint64_t>(buf.size(), p.size - done));
      RETURN_IF_ERROR(p.file->ReadAt(p.offset + done, chunk, "OVA member"));
      if (digest) digest->Update(chunk);
      if (gzip) {
        RETURN_IF_ERROR(inflater.Feed(chunk, p.name));
      } else {
        RETURN_IF_ERROR(out.WriteAt(written, chunk));
        written += chunk.size();
      }
      done += chunk.size();
    }
    if (digest) RETURN_IF_ERROR(Compare(it->second, digest->FinishHex(), p.name));
  }
  if (gzip) return inflater.Finish(pieces.empty() ? out.path() : pieces.back().name);
  return OkStatus();
}

}  // namespace

Status ExtractVerified(std::span<const PackagePiece> pieces, bool gzip, const std::string& out_path,
                       const Manifest& manifest) {
  ASSIGN_OR_RETURN(ImageFile out, ImageFile::Create(out_path));
  Status st = ExtractPieces(pieces, gzip, out, manifest);
  if (!st.ok()) ::unlink(out_path.c_str());
  return st;
}

std::string ChunkName(const std::string& href, uint64_t index) {
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%09llu", static_cast<unsigned long long>(index));
  return href + suffix;
}

}  // namespace ferry::image
