// `ferry import SOURCE --out DIR`: converts every disk, writes vm.json (the
// machine, disks, NICs with their MAC addresses) and import-report.txt
// (everything left behind), all in a staging directory renamed to DIR at
// the end.
#include <unistd.h>

#include <limits.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/json.h"
#include "base/units.h"
#include "image/args.h"
#include "image/convert.h"
#include "image/file.h"
#include "image/guest_fixup.h"
#include "image/import_command.h"
#include "image/import_source.h"
#include "image/staging_dir.h"

namespace ferry {
namespace {

using namespace image;

constexpr const char* kUsage =
    "usage: ferry import SOURCE --out DIR [-O raw|qcow2] [-p] [--force] [--no-fixup]\n"
    "                    [--fstab-uuid] [--storage NAME=DIR]... [--storage-cfg FILE]\n"
    "       ferry import SOURCE --dry-run [--storage NAME=DIR]... [--storage-cfg FILE]\n"
    "  SOURCE: a VMware .vmx (with its VMDKs), an .ova, an .ovf, a libvirt domain XML,\n"
    "          a Xen xl configuration (/etc/xen/NAME.cfg), a Proxmox VE VM\n"
    "          configuration (/etc/pve/qemu-server/VMID.conf) or a script that runs QEMU\n"
    "  --storage NAME=DIR  (Proxmox) where storage NAME's disk files are, when not\n"
    "                      where storage.cfg says; --storage-cfg FILE names storage.cfg\n"
    "  -O raw (default) gives disks that `ferry run --vm DIR` boots; qcow2 is for storing\n"
    "  or moving the VM (ferry run takes raw disks)\n";

struct ImportedDisk {
  std::string file;
  uint64_t virtual_size = 0;
};

std::string NicModel(const std::string& model) {
  return model.empty() ? "unknown" : model;
}

// Where a disk came from: its absolute path, or its name inside the OVA.
std::string SourceName(const SourceDisk& d) {
  if (!d.origin.empty()) return d.origin;
  char real[PATH_MAX];
  return ::realpath(d.path.c_str(), real) ? std::string(real) : d.path;
}

Json DescribeVm(const SourceVm& vm, const std::string& source, Format format,
                const std::vector<ImportedDisk>& disks) {
  Json j = Json::MakeObject();
  j.Set("name", vm.name);
  j.Set("memory", vm.memory_bytes);
  j.Set("vcpus", uint64_t(vm.vcpus));
  j.Set("firmware", vm.firmware);
  j.Set("guest_os", vm.guest_os);
  if (!vm.kernel.empty()) j.Set("kernel", vm.kernel);  // ferry run --vm boots it
  if (!vm.cmdline.empty()) j.Set("cmdline", vm.cmdline);
  Json ds = Json::MakeArray();
  for (size_t i = 0; i < disks.size(); ++i) {
    Json d = Json::MakeObject();
    d.Set("file", disks[i].file);
    d.Set("format", FormatName(format));
    d.Set("bus", "virtio");
    d.Set("virtual_size", disks[i].virtual_size);
    d.Set("source", SourceName(vm.disks[i]));
    d.Set("source_bus", vm.disks[i].bus);
    d.Set("source_target", vm.disks[i].target);
    ds.Push(std::move(d));
  }
  j.Set("disks", std::move(ds));
  Json ns = Json::MakeArray();
  for (const SourceNic& n : vm.nics) {
    Json o = Json::MakeObject();
    o.Set("mac", n.mac.empty() ? Json() : Json(n.mac));
    o.Set("model", "virtio-net");
    o.Set("source_model", NicModel(n.model));
    o.Set("network", n.network);
    ns.Push(std::move(o));
  }
  j.Set("nics", std::move(ns));
  Json from = Json::MakeObject();
  from.Set("kind", vm.kind);
  from.Set("path", source);
  j.Set("imported_from", std::move(from));
  Json left = Json::MakeArray();
  for (const std::string& s : vm.not_carried) left.Push(s);
  j.Set("not_carried_over", std::move(left));
  Json notes = Json::MakeArray();
  for (const std::string& s : vm.notes) notes.Push(s);
  j.Set("notes", std::move(notes));
  Json warnings = Json::MakeArray();
  for (const std::string& s : vm.warnings) warnings.Push(s);
  j.Set("warnings", std::move(warnings));
  return j;
}

std::string Report(const SourceVm& vm, const std::string& dir,
                   const std::vector<ImportedDisk>& disks) {
  std::string r = "imported '" + vm.name + "' (" + vm.kind + "): " + std::to_string(vm.vcpus) +
                  " vCPU, " + FormatSize(vm.memory_bytes) + ", " + std::to_string(disks.size()) +
                  " disk(s), " + std::to_string(vm.nics.size()) + " NIC(s) into " + dir + "\n";
  for (size_t i = 0; i < disks.size(); ++i) {
    r += "  " + disks[i].file + " <- " + vm.disks[i].target + " (" + vm.disks[i].bus + "), " +
         FormatSize(disks[i].virtual_size) + "\n";
  }
  for (size_t i = 0; i < vm.nics.size(); ++i) {
    const SourceNic& n = vm.nics[i];
    r += "  nic" + std::to_string(i) + " " + (n.mac.empty() ? "(new MAC needed)" : n.mac) + " " +
         NicModel(n.model) + " -> virtio-net" +
         (n.network.empty() ? "" : ", network '" + n.network + "'") + "\n";
  }
  r += "not carried over:" + std::string(vm.not_carried.empty() ? " nothing\n" : "\n");
  for (const std::string& s : vm.not_carried) r += "  - " + s + "\n";
  if (!vm.warnings.empty()) r += "warnings:\n";
  for (const std::string& s : vm.warnings) r += "  - " + s + "\n";
  if (!vm.notes.empty()) r += "notes:\n";
  for (const std::string& s : vm.notes) r += "  - " + s + "\n";
  return r;
}

// How to boot what was imported: ferry has no firmware, so the guest's own
// kernel boots directly, and each NIC needs a TAP on this host.
std::string RunHint(Format format, const std::string& dir, size_t nics, bool has_kernel,
                    const std::string& root_device) {
  if (format != Format::kRaw) {
    return "ferry run takes raw disks: convert these with ferry image convert -O raw, or "
           "import again with -O raw, before ferry run --vm " +
           dir;
  }
  std::string taps;
  for (size_t i = 0; i < nics; ++i) taps += " --net tap=TAP" + std::to_string(i);
  if (has_kernel) {
    return "boot it with: ferry run --vm " + dir + taps +
           " (the kernel and command line the "
           "source booted directly are in vm.json)";
  }
  const std::string root = root_device.empty() ? "/dev/vdaN" : root_device;
  return "boot it with: ferry run --vm " + dir + " --kernel VMLINUZ --cmdline 'root=" + root + "'" +
         taps + " (ferry boots no firmware or boot loader: give the guest's kernel" +
         (root_device.empty() ? "" : "; root= is what its /etc/fstab mounts on /") + ")";
}

Status WriteText(const std::string& path, const std::string& text) {
  ASSIGN_OR_RETURN(ImageFile f, ImageFile::Create(path));
  RETURN_IF_ERROR(f.WriteAt(
      0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  return f.Sync();
}

// Package disks may not name other files: VMDK only as one sparse file
// (magic KDMV, descriptor inside), and no backing files opened at all.
Status CheckSelfContained(const SourceDisk& disk, OpenOptions& open) {
  open.open_backing = false;
  Format format;
  if (disk.format) {
    format = *disk.format;
  } else {
    ASSIGN_OR_RETURN(format, ProbeFormat(disk.path));
  }
  open.format = format;
  if (format != Format::kVmdk) return OkStatus();
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(disk.path, false));
  uint8_t magic[4] = {};
  ASSIGN_OR_RETURN(size_t got, file.ReadSomeAt(0, magic));
  if (got < 4 || std::memcmp(magic, "KDMV", 4) != 0) {
    return Error(ErrorCode::kCorrupt, "disk " + disk.target +
                                          " is a VMDK descriptor naming other files; a package "
                                          "must carry self-contained (sparse or stream) disks");
  }
  return OkStatus();
}

Result<ImportedDisk> ConvertDisk(const SourceDisk& disk, const std::string& out, Format format,
                                 bool progress) {
  OpenOptions open;
  open.format = disk.format;
  if (disk.packaged) RETURN_IF_ERROR(CheckSelfContained(disk, open));
  Result<std::unique_ptr<ImageReader>> src = OpenImage(disk.path, open);
  if (!src.ok()) return std::move(src).error().WithContext("disk " + disk.target);
  if (disk.packaged) {
    ASSIGN_OR_RETURN(ImageDetails details, (*src)->Details());
    if (!details.backing_file.empty()) {
      return Error(ErrorCode::kCorrupt, "disk " + disk.target + " names a backing file (" +
                                            details.backing_file +
                                            "); a package must carry self-contained disks");
    }
  }
  CreateOptions create;
  create.final_name = out.substr(out.rfind('/') + 1);
  ASSIGN_OR_RETURN(auto dst, CreateImage(format, out, (*src)->virtual_size(), create));
  CopyOptions copy;
  if (progress) {
    copy.progress = [](const CopyProgress& p) {
      std::fprintf(stderr, "\r    %6.2f%%",
                   p.total ? 100.0 * double(p.done) / double(p.total) : 100.0);
      if (p.done >= p.total) std::fprintf(stderr, "\n");
    };
  }
  RETURN_IF_ERROR(CopyImage(**src, *dst, copy));
  return ImportedDisk{out.substr(out.rfind('/') + 1), (*src)->virtual_size()};
}

// --storage NAME=DIR[,NAME=DIR...] (repeatable) and --storage-cfg FILE.
Result<ImportOptions> ImportOptionsFrom(const Args& args) {
  ImportOptions options;
  if (auto cfg = args.Get("--storage-cfg")) options.storage_cfg = *cfg;
  if (auto all = args.Get("--storage")) {
    size_t start = 0;
    for (;;) {
      size_t comma = all->find(',', start);
      std::string item = all->substr(start, comma == std::string::npos ? comma : comma - start);
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
        return Error(ErrorCode::kInvalidArgument,
                     "--storage '" + item +
                         "': expected NAME=DIR (a Proxmox storage and the "
                         "directory holding its disk files)");
      }
      options.storage_dirs[item.substr(0, eq)] = item.substr(eq + 1);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return options;
}

// --dry-run: what an import would bring over, read and checked (OVA
// members are extracted and verified into a scratch directory that is
// removed), with nothing converted and nothing written. Exit 1 when a disk
// cannot be opened.
Result<int> DryRun(const Args& args) {
  const std::string& source = args.operands()[0];
  const char* tmp = std::getenv("TMPDIR");
  const std::string scratch = std::string(tmp && *tmp ? tmp : "/tmp") + "/ferry-import-dry-run-" +
                              std::to_string(::getpid());
  ASSIGN_OR_RETURN(StagingDir staging, StagingDir::Prepare(scratch, true));
  ASSIGN_OR_RETURN(ImportOptions options, ImportOptionsFrom(args));
  ASSIGN_OR_RETURN(ImportSource src, LoadImportSource(source, staging.path(), options));
  const SourceVm& vm = src.vm;
  std::string r = "would import '" + vm.name + "' (" + vm.kind + "): " + std::to_string(vm.vcpus) +
                  " vCPU, " + FormatSize(vm.memory_bytes) + ", " + std::to_string(vm.disks.size()) +
                  " disk(s), " + std::to_string(vm.nics.size()) + " NIC(s)\n";
  int status = 0;
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const SourceDisk& d = vm.disks[i];
    r += "  disk" + std::to_string(i) + " <- " + d.target + " (" + d.bus + "): " + SourceName(d) +
         ", ";
    OpenOptions open;
    open.format = d.format;
    Result<std::unique_ptr<ImageReader>> image = OpenImage(d.path, open);
    if (!image.ok()) {
      r += "CANNOT BE READ: " + image.error().message() + "\n";
      status = 1;
      continue;
    }
    Result<ImageDetails> details = (*image)->Details();
    r += std::string(details.ok() ? FormatName(details->format) : "?") + ", " +
         FormatSize((*image)->virtual_size()) +
         (details.ok() && !details->backing_file.empty() ? ", over " + details->backing_path : "") +
         "\n";
  }
  for (size_t i = 0; i < vm.nics.size(); ++i) {
    const SourceNic& n = vm.nics[i];
    r += "  nic" + std::to_string(i) + " " + (n.mac.empty() ? "(new MAC needed)" : n.mac) + " " +
         NicModel(n.model) + " -> virtio-net\n";
  }
  r += "not carried over:" + std::string(vm.not_carried.empty() ? " nothing\n" : "\n");
  for (const std::string& s : vm.not_carried) r += "  - " + s + "\n";
  for (const std::string& s : vm.warnings) r += "warning: " + s + "\n";
  for (const std::string& s : vm.notes) r += "note: " + s + "\n";
  r += "(dry run: nothing converted; guest fix-ups are decided when the disks are converted)\n";
  std::fputs(r.c_str(), stdout);
  return status;
}

Result<int> Import(int argc, char** argv) {
  ArgSpec spec{{"--out", "-O", "--storage", "--storage-cfg"},
               {"-p", "--force", "--no-fixup", "--fstab-uuid", "--dry-run"},
               {"--storage"}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  if (args.operands().size() == 1 && args.Has("--dry-run")) return DryRun(args);
  if (args.operands().size() != 1 || !args.Get("--out")) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected SOURCE and --out DIR\n" + std::string(kUsage));
  }
  // Raw by default: the disks ferry run serves.
  Format format = Format::kRaw;
  if (auto f = args.Get("-O")) {
    ASSIGN_OR_RETURN(format, ParseFormat(*f));
    if (format != Format::kQcow2 && format != Format::kRaw) {
      return Error(ErrorCode::kInvalidArgument, "-O must be qcow2 or raw");
    }
  }
  const std::string& source = args.operands()[0];
  const std::string dir = *args.Get("--out");
  ASSIGN_OR_RETURN(StagingDir staging, StagingDir::Prepare(dir, args.Has("--force")));
  ASSIGN_OR_RETURN(ImportOptions options, ImportOptionsFrom(args));
  ASSIGN_OR_RETURN(ImportSource src, LoadImportSource(source, staging.path(), options));
  SourceVm& vm = src.vm;
  if (vm.disks.empty()) vm.notes.push_back("the VM has no disks");
  // Fix-ups work on raw disks: convert to raw first, fix, then to the
  // output format.
  const bool fixup = !args.Has("--no-fixup");
  std::string root_device;  // from the guest's fstab, for the boot hint
  const Format first = fixup ? Format::kRaw : format;
  std::vector<ImportedDisk> disks;
  std::vector<std::string> raw_paths;
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    std::string name = "disk" + std::to_string(i) + (first == Format::kRaw ? ".raw" : ".qcow2");
    ASSIGN_OR_RETURN(ImportedDisk d,
                     ConvertDisk(vm.disks[i], staging.File(name), first, args.Has("-p")));
    disks.push_back(d);
    raw_paths.push_back(staging.File(name));
  }
  for (const std::string& s : src.scratch) ::unlink(s.c_str());
  if (fixup) {
    FixupOptions fo;
    fo.fstab_uuid = args.Has("--fstab-uuid");
    ASSIGN_OR_RETURN(FixupReport fr, FixGuest(raw_paths, fo));
    root_device = fr.root_device;
    for (const std::string& c : fr.changes) vm.notes.push_back("fix-up: " + c);
    for (const std::string& k : fr.kernels) vm.notes.push_back(k);
    for (const std::string& k : fr.unbootable) vm.warnings.push_back(k);
    for (const std::string& w : fr.warnings) vm.not_carried.push_back("fix-up: " + w);
    if (format != Format::kRaw) {
      for (size_t i = 0; i < disks.size(); ++i) {
        SourceDisk raw{raw_paths[i], Format::kRaw, "", "disk" + std::to_string(i), "", false};
        std::string out = staging.File("disk" + std::to_string(i) + ".qcow2");
        ASSIGN_OR_RETURN(disks[i], ConvertDisk(raw, out, format, false));
        ::unlink(raw_paths[i].c_str());
      }
    }
  } else {
    vm.notes.push_back("guest fix-ups skipped (--no-fixup)");
  }
  if (vm.memory_bytes == 0) vm.not_carried.push_back("memory size (none given)");
  vm.notes.push_back(RunHint(format, dir, vm.nics.size(), !vm.kernel.empty(), root_device));
  RETURN_IF_ERROR(
      WriteText(staging.File("vm.json"), DescribeVm(vm, source, format, disks).Dump() + "\n"));
  std::string report = Report(vm, dir, disks);
  RETURN_IF_ERROR(WriteText(staging.File("import-report.txt"), report));
  RETURN_IF_ERROR(staging.Commit());
  std::fputs(report.c_str(), stdout);
  return 0;
}

}  // namespace

int RunImportCommand(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  Result<int> r = Import(argc, argv);
  if (r.ok()) return *r;
  std::fprintf(stderr, "ferry import: %s\n", r.error().message().c_str());
  return 1;
}

}  // namespace ferry
