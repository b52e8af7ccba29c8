// OVA packages (a tar of the OVF descriptor, an optional manifest and the
// disk files) and OVF manifests: "SHA1(name)= hex" / "SHA256(name)= hex"
// lines. Every file a manifest lists is verified before it is used; a
// mismatch names the file.
#pragma once

#include <map>
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

}  // namespace ferry::image
