// OVA packages (a tar of the OVF descriptor, an optional manifest and the
// disk files) and OVF manifests: "SHA1(name)= hex" / "SHA256(name)= hex"
// lines. Every file a manifest lists is verified before it is used; a
// mismatch names the file.
#pragma once

#include <map>
#include <span>
#include <string>

#include "image/digest.h"
#include "image/file.h"
#include "image/tar.h"

namespace ferry::image {

struct ManifestEntry {
  DigestKind kind = DigestKind::kSha256;
  std::string hex;  // lower case
};
using Manifest = std::map<std::string, ManifestEntry>;

Result<Manifest> ParseManifest(const std::string& text);

// Reads up to `max` bytes of a member (the OVF descriptor, the manifest).
Result<std::string> ReadMember(const ImageFile& file, uint64_t offset, uint64_t size, uint64_t max,
                               const std::string& name);
// Checks `data` against the manifest's line for `name`, if it has one.
Status VerifyBytes(const Manifest& manifest, const std::string& name, const std::string& data);
// Copies [offset, offset + size) of `file` into a new file `out_path`,
// checking it against the manifest's line for `name` on the way; on a
// mismatch the copy is removed.
Status CopyVerified(const ImageFile& file, uint64_t offset, uint64_t size,
                    const std::string& out_path, const Manifest& manifest, const std::string& name);
// Checks a whole file in place against the manifest's line for `name`.
Status VerifyFile(const std::string& path, const Manifest& manifest, const std::string& name);

// One piece of a package file: the whole file, or one of its OVF chunks.
struct PackagePiece {
  const ImageFile* file = nullptr;
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string name;  // as the manifest names it
};
// Writes the pieces, in order, into a new file `out_path`, each checked
// against its manifest line on the way; with `gzip` the joined bytes are a
// gzip stream (one or more members) and are inflated. The inflated size is
// bounded (100 times the compressed size plus 1 GiB) so that a crafted
// stream cannot fill the disk. On any error `out_path` is removed.
Status ExtractVerified(std::span<const PackagePiece> pieces, bool gzip, const std::string& out_path,
                       const Manifest& manifest);
// OVF's name for chunk `index` of file `href`: "href.000000003".
std::string ChunkName(const std::string& href, uint64_t index);

}  // namespace ferry::image
