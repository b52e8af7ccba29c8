#include "image/import_source.h"

#include <cctype>
#include <cstring>

#include "image/file.h"
#include "image/ova.h"

namespace ferry::image {
namespace {

constexpr uint64_t kMaxDescriptor = 16 << 20;

enum class Kind { kVmx, kOva, kOvf, kLibvirt, kXl };

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - n + i])) != suffix[i]) return false;
  }
  return true;
}

// By extension, else by content.
Result<Kind> Detect(const std::string& path, const ImageFile& file) {
  if (EndsWith(path, ".vmx")) return Kind::kVmx;
  if (EndsWith(path, ".ova")) return Kind::kOva;
  if (EndsWith(path, ".ovf")) return Kind::kOvf;
  char head[1024] = {};
  ASSIGN_OR_RETURN(size_t n, file.ReadSomeAt(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(head),
                                                                   sizeof head)));
  std::string text(head, n);
  if (n >= 262 && std::memcmp(head + 257, "ustar", 5) == 0) return Kind::kOva;
  if (text.find("<domain") != std::string::npos) return Kind::kLibvirt;
  if (text.find("Envelope") != std::string::npos) return Kind::kOvf;
  if (text.find("config.version") != std::string::npos ||
      text.find("virtualHW.version") != std::string::npos) {
    return Kind::kVmx;
  }
  if (LooksLikeXlConfig(text)) return Kind::kXl;
  return Error(ErrorCode::kInvalidArgument,
               path + ": not a VMX, OVA, OVF, libvirt domain XML or Xen xl configuration file");
}

Result<std::string> ReadWhole(const ImageFile& file) {
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  return ReadMember(file, 0, size, kMaxDescriptor, file.path());
}

Result<ImportSource> LoadOva(const ImageFile& file, const std::string& staging) {
  ASSIGN_OR_RETURN(std::vector<TarMember> members, ListTar(file));
  const TarMember* ovf = nullptr;
  const TarMember* mf = nullptr;
  for (const TarMember& m : members) {
    if (EndsWith(m.name, ".ovf")) {
      if (ovf)
        return Error(ErrorCode::kUnimplemented, file.path() + ": more than one OVF descriptor");
      ovf = &m;
    } else if (EndsWith(m.name, ".mf")) {
      mf = &m;
    }
  }
  if (!ovf) return Error(ErrorCode::kCorrupt, file.path() + ": no .ovf descriptor in the package");
  Manifest manifest;
  ImportSource src;
  if (mf) {
    ASSIGN_OR_RETURN(std::string text,
                     ReadMember(file, mf->offset, mf->size, kMaxDescriptor, mf->name));
    ASSIGN_OR_RETURN(manifest, ParseManifest(text));
    for (const auto& [name, entry] : manifest) {
      bool present = false;
      for (const TarMember& m : members) present |= m.name == name;
      if (!present) {
        return Error(ErrorCode::kCorrupt,
                     "OVA manifest lists " + name + ", which the package does not contain");
      }
    }
  } else {
    src.vm.notes.push_back("the package has no manifest: nothing was verified");
  }
  ASSIGN_OR_RETURN(std::string descriptor,
                   ReadMember(file, ovf->offset, ovf->size, kMaxDescriptor, ovf->name));
  RETURN_IF_ERROR(VerifyBytes(manifest, ovf->name, descriptor));
  ASSIGN_OR_RETURN(SourceVm vm, ParseOvf(descriptor));
  vm.kind = "ova";
  vm.notes.insert(vm.notes.begin(), src.vm.notes.begin(), src.vm.notes.end());
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const TarMember* member = nullptr;
    for (const TarMember& m : members) {
      if (m.name == vm.disks[i].path) member = &m;
    }
    if (!member) {
      return Error(ErrorCode::kCorrupt,
                   file.path() + ": disk file " + vm.disks[i].path + " is not in the package");
    }
    if (mf && !manifest.count(member->name)) {
      vm.notes.push_back(member->name + " is not listed in the manifest: not verified");
    }
    std::string out = staging + "/.ova-disk" + std::to_string(i);
    RETURN_IF_ERROR(CopyVerified(file, member->offset, member->size, out, manifest, member->name));
    src.scratch.push_back(out);
    vm.disks[i].origin = member->name + " in " + file.path();
    vm.disks[i].path = out;
  }
  src.vm = std::move(vm);
  return src;
}

// An unpacked OVF: files beside it, the manifest (same base name, .mf) if any.
Result<ImportSource> LoadOvf(const std::string& path, const std::string& text) {
  ImportSource src;
  ASSIGN_OR_RETURN(src.vm, ParseOvf(text));
  std::string mf_path = path.substr(0, path.size() - 4) + ".mf";
  Manifest manifest;
  if (Result<ImageFile> mf = ImageFile::Open(mf_path, false); mf.ok()) {
    ASSIGN_OR_RETURN(std::string mf_text, ReadWhole(*mf));
    ASSIGN_OR_RETURN(manifest, ParseManifest(mf_text));
    std::string ovf_name = path.substr(path.rfind('/') + 1);
    RETURN_IF_ERROR(VerifyBytes(manifest, ovf_name, text));
  } else {
    src.vm.notes.push_back("no manifest beside the OVF: nothing was verified");
  }
  for (SourceDisk& d : src.vm.disks) {
    if (d.path.find('/') != std::string::npos || d.path == "..") {
      return Error(ErrorCode::kCorrupt, "ovf: disk file '" + d.path + "' is not a plain file name");
    }
    std::string name = d.path;
    d.path = ResolveRelative(path, name);
    RETURN_IF_ERROR(VerifyFile(d.path, manifest, name));
  }
  return src;
}

}  // namespace

Result<ImportSource> LoadImportSource(const std::string& path, const std::string& staging) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(Kind kind, Detect(path, file));
  if (kind == Kind::kOva) return LoadOva(file, staging);
  ASSIGN_OR_RETURN(std::string text, ReadWhole(file));
  if (kind == Kind::kOvf) return LoadOvf(path, text);
  ImportSource src;
  if (kind == Kind::kVmx) {
    ASSIGN_OR_RETURN(src.vm, ParseVmx(text, DirName(path)));
  } else if (kind == Kind::kXl) {
    ASSIGN_OR_RETURN(src.vm, ParseXlConfig(text, DirName(path)));
  } else {
    ASSIGN_OR_RETURN(src.vm, ParseLibvirtDomain(text, DirName(path)));
  }
  return src;
}

}  // namespace ferry::image
