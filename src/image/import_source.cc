#include "image/import_source.h"

#include <cctype>
#include <cstring>

#include "image/file.h"
#include "image/ova.h"

namespace ferry::image {
namespace {

constexpr uint64_t kMaxDescriptor = 16 << 20;

enum class Kind { kVmx, kOva, kOvf, kLibvirt, kXl, kProxmox, kQemu, kDisk };

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
  // A disk image alone (a Hyper-V VHDX, a P2V'd or cloud image).
  if (EndsWith(path, ".raw") || EndsWith(path, ".img")) return Kind::kDisk;
  if (Result<Format> f = ProbeFormat(path); f.ok() && *f != Format::kRaw) return Kind::kDisk;
  char head[8192] = {};
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
  if (LooksLikeQemuCommandLine(text)) return Kind::kQemu;
  if (LooksLikeXlConfig(text)) return Kind::kXl;
  if (LooksLikeProxmoxConfig(text)) return Kind::kProxmox;
  return Error(ErrorCode::kInvalidArgument,
               path +
                   ": not a VMX, OVA, OVF, libvirt domain XML, Xen xl or Proxmox VE "
                   "configuration, a QEMU command line or a disk image");
}

Result<std::string> ReadWhole(const ImageFile& file) {
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  return ReadMember(file, 0, size, kMaxDescriptor, file.path());
}

// The members holding one disk file: the file itself, or its chunks
// NAME.000000000, NAME.000000001, ... (ovf:chunkSize), in order.
Result<std::vector<PackagePiece>> MemberPieces(const ImageFile& file,
                                               const std::vector<TarMember>& members,
                                               const SourceDisk& disk) {
  auto find = [&](const std::string& name) -> const TarMember* {
    for (const TarMember& m : members) {
      if (m.name == name) return &m;
    }
    return nullptr;
  };
  std::vector<PackagePiece> pieces;
  if (disk.chunk_size == 0) {
    const TarMember* m = find(disk.path);
    if (!m) {
      return Error(ErrorCode::kCorrupt,
                   file.path() + ": disk file " + disk.path + " is not in the package");
    }
    pieces.push_back({&file, m->offset, m->size, m->name});
    return pieces;
  }
  for (uint64_t i = 0;; ++i) {
    const TarMember* m = find(ChunkName(disk.path, i));
    if (!m) break;
    if (m->size > disk.chunk_size) {
      return Error(ErrorCode::kCorrupt, file.path() + ": chunk " + m->name +
                                            " is larger than the "
                                            "chunkSize its descriptor gives");
    }
    pieces.push_back({&file, m->offset, m->size, m->name});
  }
  if (pieces.empty()) {
    return Error(ErrorCode::kCorrupt, file.path() + ": no chunk of disk file " + disk.path + " (" +
                                          ChunkName(disk.path, 0) + ") is in the package");
  }
  return pieces;
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
    SourceDisk& disk = vm.disks[i];
    ASSIGN_OR_RETURN(std::vector<PackagePiece> pieces, MemberPieces(file, members, disk));
    for (const PackagePiece& piece : pieces) {
      if (mf && !manifest.count(piece.name)) {
        vm.notes.push_back(piece.name + " is not listed in the manifest: not verified");
      }
    }
    std::string out = staging + "/.ova-disk" + std::to_string(i);
    RETURN_IF_ERROR(ExtractVerified(pieces, disk.gzip, out, manifest));
    src.scratch.push_back(out);
    disk.origin = disk.path + (disk.gzip ? " (gzip)" : "") +
                  (pieces.size() > 1 ? " in " + std::to_string(pieces.size()) + " chunks" : "") +
                  " in " + file.path();
    disk.path = out;
  }
  src.vm = std::move(vm);
  return src;
}

// An unpacked OVF: files beside it, the manifest (same base name, .mf) if any.
Result<ImportSource> LoadOvf(const std::string& path, const std::string& text,
                             const std::string& staging) {
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
  for (size_t i = 0; i < src.vm.disks.size(); ++i) {
    SourceDisk& d = src.vm.disks[i];
    if (d.path.find('/') != std::string::npos || d.path == "..") {
      return Error(ErrorCode::kCorrupt, "ovf: disk file '" + d.path + "' is not a plain file name");
    }
    std::string name = d.path;
    if (!d.gzip && d.chunk_size == 0) {
      d.path = ResolveRelative(path, name);
      RETURN_IF_ERROR(VerifyFile(d.path, manifest, name));
      continue;
    }
    // Compressed or chunked: joined and inflated into the staging directory.
    std::vector<ImageFile> files;
    std::vector<PackagePiece> pieces;
    for (uint64_t c = 0;; ++c) {
      std::string piece = d.chunk_size ? ChunkName(name, c) : name;
      Result<ImageFile> f = ImageFile::Open(ResolveRelative(path, piece), false);
      if (!f.ok()) {
        if (c == 0) return std::move(f).error().WithContext("ovf: disk file " + piece);
        break;
      }
      ASSIGN_OR_RETURN(uint64_t size, f->Size());
      files.push_back(std::move(*f));
      pieces.push_back({nullptr, 0, size, piece});
      if (!d.chunk_size) break;
    }
    for (size_t k = 0; k < pieces.size(); ++k) pieces[k].file = &files[k];
    std::string out = staging + "/.ovf-disk" + std::to_string(i);
    RETURN_IF_ERROR(ExtractVerified(pieces, d.gzip, out, manifest));
    src.scratch.push_back(out);
    d.origin = ResolveRelative(path, name);
    d.path = out;
  }
  return src;
}

}  // namespace

// A disk image without a machine around it: one disk, the rest left to
// ferry run's defaults (and said so).
SourceVm DiskOnly(const std::string& path) {
  SourceVm vm;
  vm.kind = "disk";
  std::string base = path.substr(path.rfind('/') + 1);
  vm.name = base.substr(0, base.rfind('.') == std::string::npos ? base.size() : base.rfind('.'));
  vm.vcpus = 1;
  SourceDisk d;
  d.path = path;
  d.bus = "unknown";
  d.target = base;
  vm.disks.push_back(d);
  vm.notes.push_back(
      "a disk without a VM description: memory, vCPUs and NICs are not known; "
      "set them in vm.json or give ferry run --memory, --cpus and --net");
  return vm;
}

// storage.cfg: the one given, else beside the config, else the cluster's.
Result<ProxmoxStorages> LoadStorages(const std::string& config, const ImportOptions& options) {
  std::string cfg = options.storage_cfg;
  if (cfg.empty()) {
    for (const std::string& candidate :
         {ResolveRelative(config, "storage.cfg"), std::string("/etc/pve/storage.cfg")}) {
      if (ImageFile::Open(candidate, false).ok()) {
        cfg = candidate;
        break;
      }
    }
  }
  if (cfg.empty()) return ProxmoxStorages{};
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(cfg, false));
  ASSIGN_OR_RETURN(std::string text, ReadWhole(file));
  Result<ProxmoxStorages> storages = ParseProxmoxStorageCfg(text);
  if (!storages.ok()) return std::move(storages).error().WithContext(cfg);
  return storages;
}

Result<ImportSource> LoadImportSource(const std::string& path, const std::string& staging,
                                      const ImportOptions& options) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(Kind kind, Detect(path, file));
  if (kind == Kind::kOva) return LoadOva(file, staging);
  if (kind == Kind::kDisk) return ImportSource{DiskOnly(path), {}};
  ASSIGN_OR_RETURN(std::string text, ReadWhole(file));
  if (kind == Kind::kOvf) return LoadOvf(path, text, staging);
  ImportSource src;
  if (kind == Kind::kVmx) {
    ASSIGN_OR_RETURN(src.vm, ParseVmx(text, DirName(path)));
  } else if (kind == Kind::kXl) {
    ASSIGN_OR_RETURN(src.vm, ParseXlConfig(text, DirName(path)));
  } else if (kind == Kind::kQemu) {
    ASSIGN_OR_RETURN(src.vm, ParseQemuCommandLine(text, DirName(path)));
  } else if (kind == Kind::kProxmox) {
    ASSIGN_OR_RETURN(ProxmoxStorages storages, LoadStorages(path, options));
    ASSIGN_OR_RETURN(src.vm, ParseProxmoxConfig(text, storages, options.storage_dirs));
    if (src.vm.name == "proxmox-vm") {  // no name: the file's, which is the VM id
      std::string base = path.substr(path.rfind('/') + 1);
      src.vm.name = "proxmox-" + base.substr(0, base.find('.'));
    }
  } else {
    ASSIGN_OR_RETURN(src.vm, ParseLibvirtDomain(text, DirName(path)));
  }
  return src;
}

}  // namespace ferry::image
