#include "image/ova_writer.h"

#include <vector>

#include "image/digest.h"
#include "image/file.h"
#include "image/tar_writer.h"

namespace ferry::image {
namespace {

constexpr size_t kChunk = 1 << 20;

Result<std::string> Sha256Text(const std::string& text) {
  ASSIGN_OR_RETURN(Digest d, Digest::Start(DigestKind::kSha256));
  d.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return d.FinishHex();
}

Result<std::string> Sha256File(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile f, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t size, f.Size());
  ASSIGN_OR_RETURN(Digest d, Digest::Start(DigestKind::kSha256));
  std::vector<uint8_t> buf(kChunk);
  for (uint64_t at = 0; at < size;) {
    const size_t n = size_t(std::min<uint64_t>(buf.size(), size - at));
    RETURN_IF_ERROR(f.ReadAt(at, std::span<uint8_t>(buf.data(), n), "disk file"));
    d.Update(std::span<const uint8_t>(buf.data(), n));
    at += n;
  }
  return d.FinishHex();
}

}  // namespace

std::string ManifestLine(const std::string& name, const std::string& sha256_hex) {
  return "SHA256(" + name + ")= " + sha256_hex + "\n";
}

Status WriteOva(const std::string& path, const std::string& ovf_name, const std::string& ovf_text,
                const std::vector<OvaFile>& disks) {
  // The manifest comes before the disks, so they are read twice: once for
  // their digests, once into the archive.
  ASSIGN_OR_RETURN(std::string ovf_hex, Sha256Text(ovf_text));
  std::string manifest = ManifestLine(ovf_name, ovf_hex);
  for (const OvaFile& d : disks) {
    ASSIGN_OR_RETURN(std::string hex, Sha256File(d.path));
    manifest += ManifestLine(d.name, hex);
  }
  const std::string mf_name = ovf_name.substr(0, ovf_name.rfind('.')) + ".mf";
  ASSIGN_OR_RETURN(TarWriter tar, TarWriter::Create(path));
  RETURN_IF_ERROR(tar.Add(ovf_name, ovf_text));
  RETURN_IF_ERROR(tar.Add(mf_name, manifest));
  for (const OvaFile& d : disks) RETURN_IF_ERROR(tar.AddFile(d.name, d.path));
  return tar.Finish();
}

}  // namespace ferry::image
